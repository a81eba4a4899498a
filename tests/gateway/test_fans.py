"""Fans' sessions (one per device, revocable) and their data export, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import uuid

from sqlmodel import Session, select

from gateway.models import Fan
from gateway.services import fans
from tests.utils.db import age_fan_sessions
from tests.utils.http import bearer


def _idempotent(headers: dict) -> dict:
    return headers | {"Idempotency-Key": secrets.token_hex(8)}


def test_a_fan_adds_a_device_and_signs_a_lost_one_out(client, new_fan):
    fan = new_fan()
    [first] = client.get("/fans/me/sessions", headers=fan["headers"]).json()
    assert first["revoked_at"] is None and "session_token" not in first
    last = client.delete(f"/fans/me/sessions/{first['id']}", headers=fan["headers"])
    assert last.status_code == 409 and last.json()["error"] == "last_session"

    created = client.post("/fans/me/sessions", headers=fan["headers"])
    assert created.status_code == 201 and created.json()["session_token"].startswith("tkf_")
    phone = bearer(created.json()["session_token"])
    assert client.get("/fans/me", headers=phone).json()["id"] == fan["id"]
    revoked = client.delete(f"/fans/me/sessions/{first['id']}", headers=phone)  # the lost device
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    gone = client.get("/fans/me", headers=fan["headers"])
    assert gone.status_code == 401 and gone.json()["error"] == "unauthorized"
    again = client.delete(f"/fans/me/sessions/{first['id']}", headers=phone)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # revoking twice changes nothing
    assert [s["revoked_at"] is None for s in client.get("/fans/me/sessions", headers=phone).json()] == [
        False,
        True,
    ]

    other = new_fan()  # someone else's session: 404, and nothing revoked
    refused = client.delete(f"/fans/me/sessions/{created.json()['id']}", headers=other["headers"])
    assert refused.status_code == 404 and refused.json()["error"] == "session_not_found"
    assert client.get("/fans/me", headers=phone).status_code == 200


def test_a_fan_exports_everything_kept_about_them(app, client, new_fan, issue):
    alice, bob = new_fan(email="alice@example.org"), new_fan()
    first, second = issue(alice, quantity=2)["tickets"]
    gift = client.post(
        f"/tickets/{first['id']}/gift", json={"to_fan": bob["id"]}, headers=_idempotent(alice["headers"])
    )
    assert gift.status_code == 201, gift.text
    listing = client.post(
        f"/tickets/{second['id']}/resale", json={"price_wei": 5}, headers=_idempotent(alice["headers"])
    )
    assert listing.status_code == 201, listing.text

    response = client.get("/fans/me/export", headers=alice["headers"])
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["account"] == {"id": alice["id"], "address": alice["address"], "wallet_address": None}
    assert data["email"] == "alice@example.org" and len(data["sessions"]) == 1
    assert [t["id"] for t in data["tickets"]] == [second["id"]]  # the gifted one is bob's now
    assert [(t["ticket_id"], t["from_fan"], t["to_fan"], t["kind"]) for t in data["transfers"]] == [
        (first["id"], alice["id"], bob["id"], "gift")
    ]
    assert [(x["id"], x["price_wei"]) for x in data["listings"]] == [(listing.json()["id"], "5")]
    with Session(app.state.runtime.engine) as session:  # the custodial key and the token never leave
        encrypted = session.exec(select(Fan.encrypted_key).where(Fan.address == alice["address"])).one()
    assert encrypted not in response.text and alice["session_token"] not in response.text

    received = client.get("/fans/me/export", headers=bob["headers"]).json()
    assert [t["id"] for t in received["tickets"]] == [first["id"]] and received["email"] is None
    assert [t["to_fan"] for t in received["transfers"]] == [bob["id"]] and received["listings"] == []
    assert client.get("/fans/me/export").status_code == 401


# ---- recovery codes and idle sessions
def test_a_fan_who_lost_every_device_gets_back_in_with_the_recovery_code(client, new_fan, issue):
    fan = new_fan()
    [ticket] = issue(fan)["tickets"]
    assert fan["recovery_code"].startswith("tkr_")
    recovered = client.post("/fans/recover", json={"recovery_code": fan["recovery_code"]})
    assert recovered.status_code == 201, recovered.text
    body = recovered.json()
    device = bearer(body["session_token"])
    assert client.get(f"/tickets/{ticket['id']}", headers=device).status_code == 200  # the tickets are there
    old = client.get("/fans/me", headers=fan["headers"])  # the lost phone is signed out by default
    assert old.status_code == 401
    used = client.post("/fans/recover", json={"recovery_code": fan["recovery_code"]})
    assert used.status_code == 401 and used.json()["error"] == "bad_recovery_code"  # a code works once
    again = client.post(
        "/fans/recover", json={"recovery_code": body["recovery_code"], "sign_out_everywhere": False}
    )
    assert again.status_code == 201
    assert client.get("/fans/me", headers=device).status_code == 200  # kept, as asked


def test_a_wrong_code_and_an_unknown_account_are_refused_alike(client, new_fan):
    fan = new_fan()
    code = fan["recovery_code"]
    assert code.startswith(f"tkr_{uuid.UUID(fan['id']).hex}_")  # one string to keep: it names the account
    secret = code.rsplit("_", 1)[1]
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    for body in (
        {"recovery_code": wrong},
        {"recovery_code": "tkr_wrong"},
        {"recovery_code": f"tkr_{uuid.uuid4().hex}_{secret}"},
    ):  # another (unknown) account
        refused = client.post("/fans/recover", json=body)
        assert refused.status_code == 401 and refused.json()["error"] == "bad_recovery_code"
    assert client.get("/fans/me", headers=fan["headers"]).status_code == 200  # nothing revoked
    bad = client.post("/fans/recover", json={"recovery_code": ""})
    assert bad.status_code == 422


def test_a_new_recovery_code_replaces_the_old_one(client, new_fan):
    fan = new_fan()
    fresh = client.post("/fans/me/recovery-code", headers=fan["headers"])
    assert fresh.status_code == 201
    stale = client.post("/fans/recover", json={"recovery_code": fan["recovery_code"]})
    assert stale.status_code == 401 and stale.json()["error"] == "bad_recovery_code"
    works = client.post("/fans/recover", json={"recovery_code": fresh.json()["recovery_code"]})
    assert works.status_code == 201


def test_a_session_unused_past_the_limit_expires_and_use_keeps_one_alive(app, client, new_fan):
    limit = app.state.runtime.settings.fan_session_idle_days
    fan, active = new_fan(), new_fan()
    age_fan_sessions(app.state.runtime.engine, fan["id"], limit + 1)
    expired = client.get("/fans/me", headers=fan["headers"])
    assert expired.status_code == 401 and expired.json()["error"] == "session_expired"
    back = client.post("/fans/recover", json={"recovery_code": fan["recovery_code"]})
    assert client.get("/fans/me", headers=bearer(back.json()["session_token"])).status_code == 200

    age_fan_sessions(
        app.state.runtime.engine, active["id"], limit - 1
    )  # used a day before the limit: the use is recorded
    assert client.get("/fans/me", headers=active["headers"]).status_code == 200
    [row] = client.get("/fans/me/sessions", headers=active["headers"]).json()
    assert row["last_used_at"] > row["created_at"]
    assert client.get("/fans/me", headers=active["headers"]).status_code == 200


def test_sessions_never_expire_when_the_limit_is_zero(app, client, new_fan):
    fan = new_fan()
    age_fan_sessions(app.state.runtime.engine, fan["id"], 10_000)
    app.state.runtime.settings = app.state.runtime.settings.model_copy(update={"fan_session_idle_days": 0})
    assert client.get("/fans/me", headers=fan["headers"]).status_code == 200


def test_a_ticket_read_checks_an_uncached_token_in_the_one_thread_trip_it_takes(
    app, client, new_fan, monkeypatch
):
    """A phone polls every few seconds, longer than the process's cache keeps a token: the ticket reads check
    the token on the connection they read with, in their own thread trip (one trip, not two), by the same
    session rules as every other route."""
    import anyio.to_thread

    trips = []
    real_run_sync = anyio.to_thread.run_sync

    async def counted(*args, **kwargs):
        trips.append(args[0])
        return await real_run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    limit = app.state.runtime.settings.fan_session_idle_days
    fan, active = new_fan(), new_fan()
    fans.forget_sessions()
    trips.clear()
    assert client.get("/fans/me/tickets", headers=fan["headers"]).status_code == 200
    assert len(trips) == 1
    unknown = client.get("/fans/me/tickets", headers=bearer("not-a-token"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "unauthorized"

    fans.forget_sessions()
    age_fan_sessions(app.state.runtime.engine, fan["id"], limit + 1)
    expired = client.get(f"/tickets/{uuid.uuid4()}", headers=fan["headers"])
    assert expired.status_code == 401 and expired.json()["error"] == "session_expired"

    age_fan_sessions(app.state.runtime.engine, active["id"], limit - 1)  # the use is recorded (a touch)
    fans.forget_sessions()
    assert client.get("/fans/me/tickets", headers=active["headers"]).status_code == 200
    [row] = client.get("/fans/me/sessions", headers=active["headers"]).json()
    assert row["last_used_at"] > row["created_at"]


def test_a_fan_token_never_shows_in_a_repr():
    """What a read route receives may end up in a log line or a traceback: the secret stays out of it."""
    assert "tkf_secret" not in repr(fans.FanToken("tkf_secret", idle_days=1, cache_seconds=2))
