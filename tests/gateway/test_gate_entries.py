"""Re-entry and day passes at the gate (issue 15): the event's entry policy, entries and exits after the first
admission (gate_entries), offline entries synced, and the concurrency guarantee for each entry - on SQLite and
PostgreSQL. The first admission checks the ticket in (once); later entries are gate records only."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from gateway import db
from gateway.core import codes, gate_rules
from gateway.models import Admission, GateEntry, GateRefusal
from gateway.services import gate as gate_service
from tests.utils.db import rows
from tests.utils.gate import bind_key, make_gate_key, post

pytestmark = pytest.mark.usefixtures("fresh_cancellation_cache")

TODAY = datetime.now(UTC).date()


def set_door(client, org, event_id, **body):
    response = client.put(f"/events/{event_id}/door", json=body, headers=org["headers"])
    assert response.status_code == 200, response.text
    return response.json()


def test_door_settings_are_the_organisers_and_checked(client, org, gw_event, new_fan):
    event = gw_event["id"]
    assert client.get(f"/events/{event}/door", headers=org["headers"]).json() == {
        "event_id": event,
        "entry_policy": "single",
        "entry_days": [],
        "timezone": "UTC",
        "venue": None,
        "starts_at": None,
        "doors_at": None,
        "offline_unlisted": "refuse",
        "tier_policies": {},
    }
    done = set_door(
        client,
        org,
        event,
        entry_policy="days",
        entry_days=["2026-07-04", "2026-07-03", "2026-07-04"],
        timezone="Europe/London",
        venue="Hyde Park",
        starts_at="2026-07-03T17:00:00Z",
        doors_at="2026-07-03T16:00:00+00:00",
        offline_unlisted="admit",
    )
    assert done["entry_days"] == ["2026-07-03", "2026-07-04"] and done["venue"] == "Hyde Park"
    for body, code in [
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"entry_policy": "days"}, "entry_days_required"),
        ({"entry_policy": "sometimes"}, "invalid_request"),
        ({"entry_days": ["4 July"]}, "invalid_request"),
    ]:
        response = client.put(f"/events/{event}/door", json=body, headers=org["headers"])
        assert (response.status_code, response.json()["error"]) == (422, code), body
    other = client.post("/organisers", json={"name": "Other"}).json()
    response = client.put(
        f"/events/{event}/door", json={}, headers={"Authorization": f"Bearer {other['api_key']}"}
    )
    assert response.status_code == 404
    assert (
        client.get(f"/events/{event}/door", headers=org["headers"]).json()["venue"] == "Hyde Park"
    )  # unchanged


def test_a_ticket_place_is_set_by_the_organiser(client, org, gw_event, holder):
    ticket = holder["ticket"]
    response = client.put(
        f"/events/{gw_event['id']}/tickets/{ticket['id']}/place",
        json={"section": "B", "row": "12", "seat": "7"},
        headers=org["headers"],
    )
    assert response.status_code == 200 and response.json()["seat"] == "7", response.text
    missing = client.put(
        f"/events/{gw_event['id']}/tickets/{uuid.uuid4()}/place", json={}, headers=org["headers"]
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "ticket_not_found")


def test_reentry_exit_reopens_entry_and_only_the_first_entry_checks_in(
    app, client, org, gw_event, gate, holder
):
    set_door(client, org, gw_event["id"], entry_policy="reentry")
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])

    def scan(direction="entry"):
        return post(
            client, gate, "scan", {"code": codes.sign_code(key, ticket["id"]), "direction": direction}
        )

    assert scan("exit")["reason"] == "not_inside"
    assert scan()["admit"] is True
    assert scan()["reason"] == "already_checked_in"  # in, no exit: refused as today
    assert post(client, gate, "verify", {"code": codes.sign_code(key, ticket["id"]), "direction": "exit"})[
        "admit"
    ]
    assert scan("exit")["admit"] is True
    assert scan("exit")["reason"] == "not_inside"
    assert scan()["admit"] is True  # back in
    assert scan()["reason"] == "already_checked_in"
    assert len(rows(app, Admission)) == 1  # the check-in (and the badge) once
    assert sorted(e.slot for e in rows(app, GateEntry)) == ["entry:2", "exit:1"]
    payload = json.loads(client.get("/gate/snapshot", headers=gate["headers"]).json()["payload"])
    [listed] = payload["tickets"]  # [id, token_id, tier_id, key, flags, entries, exits, days]
    assert (listed[4], listed[5], listed[6]) == (gate_rules.CHECKED_IN, 2, 1)
    assert payload["rules"]["entry_policy"] == "reentry"


def test_a_tier_has_its_own_entry_policy(app, client, org, gw_event, gate, new_fan, issue):
    """The event is single entry; its VIP tier (1) lets people out and back in."""
    done = set_door(client, org, gw_event["id"], tier_policies={"1": "reentry"})
    assert done["tier_policies"] == {"1": "reentry"}
    fan = new_fan()
    [vip] = issue(fan, tier_id=1, ref="vip")["tickets"]
    [general] = issue(fan, ref="general")["tickets"]
    vip_key, general_key = bind_key(client, fan, vip["id"]), bind_key(client, fan, general["id"])

    def scan(key, ticket, direction="entry"):
        code = codes.sign_code(key, ticket["id"])
        return post(client, gate, "scan", {"code": code, "direction": direction})

    assert [scan(vip_key, vip, d)["admit"] for d in ("entry", "exit", "entry")] == [True, True, True]
    assert scan(general_key, general)["admit"] is True
    assert scan(general_key, general, "exit")["reason"] == "no_exit"
    assert scan(general_key, general)["reason"] == "already_checked_in"
    mine = client.get("/fans/me/tickets", headers=fan["headers"]).json()
    passes = {t["id"]: t["door"]["entry_policy"] for t in mine}
    assert passes == {vip["id"]: "reentry", general["id"]: "single"}  # the pass knows its own
    payload = json.loads(client.get("/gate/snapshot", headers=gate["headers"]).json()["payload"])
    assert payload["rules"]["tier_policies"] == {"1": "reentry"}
    listed = {row[2]: row for row in payload["tickets"]}
    assert listed[1][5:7] == [2, 1] and len(listed[0]) == 5  # entry state only where a policy needs it


def test_an_event_without_reentry_has_no_exits(client, gate, holder):
    key = bind_key(client, holder["fan"], holder["ticket"]["id"])
    answer = post(
        client, gate, "scan", {"code": codes.sign_code(key, holder["ticket"]["id"]), "direction": "exit"}
    )
    assert answer["reason"] == "no_exit"


def test_a_day_pass_enters_once_on_each_of_its_days(app, client, org, gw_event, gate, holder, settings):
    days = [TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=3)]
    set_door(
        client,
        org,
        gw_event["id"],
        entry_policy="days",
        entry_days=[d.isoformat() for d in days],
        timezone="UTC",
    )
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    ref = gate_service.GateKeyRef(uuid.UUID(gate["id"]), uuid.UUID(gw_event["id"]), "North door")

    def scan_on(day, hour=12):
        moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()
        code = codes.sign_code(key, ticket["id"], codes.window_of(moment))
        with Session(app.state.runtime.engine) as session:
            return gate_service.scan(
                session=session, settings=settings, gate_key=ref, code=code, unix_time=moment
            )

    assert scan_on(days[0]).admit is True
    assert scan_on(days[0], 20).reason == "already_checked_in"
    assert scan_on(days[1]).admit is True
    assert scan_on(days[1], 21).reason == "already_checked_in"
    assert scan_on(TODAY + timedelta(days=2)).reason == "not_valid_today"
    assert scan_on(days[2]).admit is True
    assert len(rows(app, Admission)) == 1
    assert sorted(e.slot for e in rows(app, GateEntry)) == [f"day:{days[1]}", f"day:{days[2]}"]
    payload = json.loads(client.get("/gate/snapshot", headers=gate["headers"]).json()["payload"])
    assert payload["tickets"][0][7] == [d.isoformat() for d in days]


def test_offline_entries_and_exits_sync_once(app, client, org, gw_event, gate, holder):
    set_door(client, org, gw_event["id"], entry_policy="reentry")
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    start = datetime.now(UTC) - timedelta(seconds=40)
    scans = [
        {
            "code": codes.sign_code(key, ticket["id"], codes.window_of(at.timestamp())),
            "direction": way,
            "scanned_at": at.isoformat(),
        }
        for at, way in [
            (start, "entry"),
            (start + timedelta(seconds=10), "exit"),
            (start + timedelta(seconds=20), "entry"),
        ]
    ]
    body = {"device": "tablet-1", "scans": scans}
    first = post(client, gate, "sync", body)["results"]
    assert [r["result"] for r in first] == ["admitted"] * 3
    again = post(client, gate, "sync", body)["results"]
    assert [r["result"] for r in again] == ["already_admitted_here"] * 3  # nothing twice
    assert len(rows(app, Admission)) == 1 and len(rows(app, GateEntry)) == 2
    # another gate's offline entry while the fan was inside: a conflict, named, not a second entry
    other = make_gate_key(client, org, gw_event["id"], label="South door")
    late = {"code": scans[2]["code"], "direction": "entry", "scanned_at": scans[2]["scanned_at"]}
    [conflict] = post(client, other, "sync", {"device": "phone-9", "scans": [late]})["results"]
    assert conflict["result"] == "conflict" and conflict["admitted_by"]["gate_label"] == "North door"
    assert len(rows(app, GateEntry)) == 2


SCANS = 30


@pytest.mark.parametrize("policy", ["reentry", "days"])
def test_simultaneous_scans_for_one_later_entry_admit_exactly_one(
    app, settings, client, org, gw_event, gate, holder, policy
):
    """Re-entry: the ticket is out after its first entry and an exit; day pass: it entered yesterday. 30 scans
    at once for its next entry, through the whole scan (rules, then the entry write) over 5 engines (as 5
    processes would have): exactly one admits, the others are refused already_checked_in.
    (test_gate_concurrency.py races first entries over real processes; this write is the same kind of
    INSERT.)"""
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    ref = gate_service.GateKeyRef(uuid.UUID(gate["id"]), uuid.UUID(gw_event["id"]), "North door")
    moment = time.time()
    if policy == "reentry":
        set_door(client, org, gw_event["id"], entry_policy="reentry")
        assert post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"])})["admit"] is True
        assert post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"]), "direction": "exit"})[
            "admit"
        ]
        slots = ["entry:2", "exit:1"]
    else:
        set_door(
            client,
            org,
            gw_event["id"],
            entry_policy="days",
            entry_days=[str(TODAY - timedelta(days=1)), str(TODAY)],
        )
        yesterday = moment - 86_400
        with Session(app.state.runtime.engine) as session:
            assert gate_service.scan(
                session=session,
                settings=settings,
                gate_key=ref,
                unix_time=yesterday,
                code=codes.sign_code(key, ticket["id"], codes.window_of(yesterday)),
            ).admit
        slots = [f"day:{TODAY}"]
    engines = [db.make_engine(settings.database_url) for _ in range(5)]
    barrier = threading.Barrier(SCANS)
    answers: list = [None] * SCANS
    errors: list[BaseException] = []

    def scan(i: int) -> None:
        try:
            with Session(engines[i % len(engines)]) as session:
                session.connection()  # connected before the race
                code = codes.sign_code(key, ticket["id"], codes.window_of(moment))
                barrier.wait(timeout=60)
                answers[i] = gate_service.scan(
                    session=session,
                    settings=settings,
                    gate_key=ref,
                    code=code,
                    device=f"s{i}",
                    unix_time=moment,
                )
        except BaseException as error:  # noqa: BLE001  # reported below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(SCANS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for engine in engines:
            engine.dispose()
    assert not errors, errors
    assert sum(a.admit for a in answers) == 1, answers
    assert {a.reason for a in answers if not a.admit} == {"already_checked_in"}
    assert sorted(e.slot for e in rows(app, GateEntry)) == slots
    assert len(rows(app, GateRefusal)) == SCANS - 1 and len(rows(app, Admission)) == 1
