"""The gate over HTTP (docs/gate.md) on SQLite and PostgreSQL against the real anvil: device binding,
verify/scan answers and reasons, one admission per ticket, bad input, offline snapshots and sync."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from eth_account.messages import encode_defunct
from sqlmodel import Session, update

from gateway.core import codes
from gateway.indexer import Indexer
from gateway.models import Admission, ApiKey, DeviceKey, GateConflict, GateRefusal, Ticket
from gateway.services import gate as gate_service
from tests.utils.db import rows
from tests.utils.gate import bind_key, make_gate_key, post
from tests.utils.http import bearer

pytestmark = pytest.mark.usefixtures("fresh_cancellation_cache")


# ---- helpers
def now_window() -> int:
    return codes.window_of(time.time())


# ---- binding
def test_a_bound_key_admits_once_and_verify_writes_nothing(app, client, gate, holder):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    code = codes.sign_code(key, ticket["id"])
    expected = {
        "admit": True,
        "reason": None,
        "ticket_id": ticket["id"],
        "token_id": ticket["token_id"],
        "tier_id": 0,
        "tier_name": "General",
    }
    assert post(client, gate, "verify", {"code": code}) == expected
    assert post(client, gate, "verify", {"code": code}) == expected  # verify checks only
    assert rows(app, Admission) == [] and rows(app, GateRefusal) == []
    assert post(client, gate, "scan", {"code": code, "device": "scanner-1"}) == expected
    again = post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"])})
    assert again == expected | {"admit": False, "reason": "already_checked_in"}
    assert post(client, gate, "verify", {"code": code})["reason"] == "already_checked_in"
    [admission] = rows(app, Admission)
    assert (
        str(admission.ticket_id),
        admission.token_id,
        str(admission.gate_key_id),
        admission.device,
        admission.source,
        admission.chain_status,
    ) == (ticket["id"], ticket["token_id"], gate["id"], "scanner-1", "online", "queued")
    [refusal] = rows(app, GateRefusal)
    assert (refusal.reason, str(refusal.ticket_id), str(refusal.gate_key_id)) == (
        "already_checked_in",
        ticket["id"],
        gate["id"],
    )


def test_binding_rules(app, client, holder, new_fan):
    fan, ticket = holder["fan"], holder["ticket"]
    url = f"/tickets/{ticket['id']}/device"
    first = codes.new_device_key()
    response = client.post(url, json={"public_key": codes.public_key_text(first)}, headers=fan["headers"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert (
        body["ticket_id"],
        body["public_key"],
        body["holder"],
        body["bound_by"],
        body["window_seconds"],
    ) == (ticket["id"], codes.public_key_text(first), fan["address"], "gateway", 15)
    # the same key again is the same binding; another key replaces it (the old one revoked)
    again = client.post(url, json={"public_key": codes.public_key_text(first)}, headers=fan["headers"])
    assert again.status_code == 201 and again.json() == body
    bind_key(client, fan, ticket["id"])
    keys = rows(app, DeviceKey)
    assert len(keys) == 2 and [k.revoked_at is None for k in sorted(keys, key=lambda k: k.created_at)] == [
        False,
        True,
    ]
    # only the holder's session binds; no session and no wallet signature is 401
    stranger = client.post(
        url, json={"public_key": codes.public_key_text(first)}, headers=new_fan()["headers"]
    )
    assert stranger.status_code == 404 and stranger.json()["error"] == "ticket_not_found"
    assert client.post(url, json={"public_key": codes.public_key_text(first)}).status_code == 401
    unknown = client.post(
        f"/tickets/{uuid.uuid4()}/device",
        json={"public_key": codes.public_key_text(first)},
        headers=fan["headers"],
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "ticket_not_found"
    # a public key must be a P-256 point in the documented encoding
    raw = base64.urlsafe_b64decode(codes.public_key_text(first) + "=")
    off_curve = codes.b64url(raw[:-1] + bytes([raw[-1] ^ 1]))
    bad = client.post(url, json={"public_key": off_curve}, headers=fan["headers"])
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_public_key"
    for malformed in ("", "abc", codes.public_key_text(first) + "=", raw.hex(), None, 7):
        response = client.post(url, json={"public_key": malformed}, headers=fan["headers"])
        assert response.status_code == 422 and response.json()["error"] == "invalid_request", malformed
    assert len(rows(app, DeviceKey)) == 2


def test_gate_key_label(app, client, org, gw_event):
    labelled = make_gate_key(client, org, gw_event["id"], label="South door")
    assert labelled["label"] == "South door"
    assert make_gate_key(client, org, gw_event["id"])["label"] is None
    empty = client.post(f"/events/{gw_event['id']}/gate-keys", json={"label": ""}, headers=org["headers"])
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_request"
    assert [k.label for k in rows(app, ApiKey, ApiKey.id == uuid.UUID(labelled["id"]))] == ["South door"]


# ---- refusals
def test_refusal_reasons(client, org, gate, holder, new_fan, issue, make_event, operator, organiser):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    w = now_window()
    known = {"ticket_id": ticket["id"], "token_id": ticket["token_id"], "tier_id": 0, "tier_name": "General"}

    def verify(code):
        return post(client, gate, "verify", {"code": code})

    for d in (-1, 0, 1):  # the window either side of the gate's (clock drift)
        assert verify(codes.sign_code(key, ticket["id"], w + d))["admit"] is True, d
    for d in (-3, -40, 3):  # older (a screenshot) or ahead: expired (3 windows: immune to a window boundary)
        assert verify(codes.sign_code(key, ticket["id"], w + d)) == known | {
            "admit": False,
            "reason": "expired_code",
        }
    forged = codes.sign_code(codes.new_device_key(), ticket["id"], w)
    assert verify(forged) == known | {"admit": False, "reason": "bad_signature"}
    genuine = codes.decode(
        codes.sign_code(key, ticket["id"], w - 3)
    )  # an old code's signature on a new window
    assert verify(codes.encode(genuine.ticket_id, w, genuine.signature))["reason"] == "bad_signature"
    assert verify(codes.sign_code(key, uuid.uuid4(), w)) == {
        "admit": False,
        "reason": "unknown_ticket",
        "ticket_id": None,
        "token_id": None,
        "tier_id": None,
        "tier_name": None,
    }
    [unbound] = issue(new_fan(), tier_id=1)["tickets"]
    assert verify(codes.sign_code(key, unbound["id"], w)) == {
        "admit": False,
        "reason": "no_device_key",
        "ticket_id": unbound["id"],
        "token_id": unbound["token_id"],
        "tier_id": 1,
        "tier_name": "VIP",
    }
    # a ticket of another event, at this event's gate (and the other way round)
    other = make_event()
    other.grant_role("MINTER_ROLE", operator.address, sender=organiser)
    other_event = client.post(
        "/events", json={"collection_address": other.address}, headers=org["headers"]
    ).json()
    fan = new_fan()
    response = client.post(
        f"/events/{other_event['id']}/tickets/issue",
        headers=org["headers"] | {"Idempotency-Key": "o"},
        json={"fan_id": fan["id"], "tier_id": 0, "quantity": 1, "payment_reference": "p"},
    )
    assert response.status_code == 201, response.text
    [foreign] = response.json()["tickets"]
    foreign_key = bind_key(client, fan, foreign["id"])
    wrong = verify(codes.sign_code(foreign_key, foreign["id"], w))
    assert (wrong["admit"], wrong["reason"], wrong["tier_name"]) == (False, "wrong_event", None)
    other_gate = make_gate_key(client, org, other_event["id"])
    assert (
        post(client, other_gate, "scan", {"code": codes.sign_code(key, ticket["id"], w)})["reason"]
        == "wrong_event"
    )
    assert post(client, other_gate, "verify", {"code": codes.sign_code(foreign_key, foreign["id"], w)})[
        "admit"
    ]


def test_a_moved_ticket_stops_admitting_until_the_new_holder_binds(client, gate, holder, new_fan):
    alice, ticket = holder["fan"], holder["ticket"]
    alice_key = bind_key(client, alice, ticket["id"])
    bob = new_fan()
    gift = client.post(
        f"/tickets/{ticket['id']}/gift",
        json={"to_fan": bob["id"]},
        headers=alice["headers"] | {"Idempotency-Key": "g1"},
    )
    assert gift.status_code == 201, gift.text
    assert (
        post(client, gate, "scan", {"code": codes.sign_code(alice_key, ticket["id"])})["reason"]
        == "not_owner"
    )
    [entry] = [
        t
        for t in json.loads(client.get("/gate/snapshot", headers=gate["headers"]).json()["payload"])[
            "tickets"
        ]
        if t[0] == gate_service.gate_rules.list_id(uuid.UUID(ticket["id"]))
    ]
    assert (entry[3], entry[4]) == (
        codes.compress_public_key(codes.public_key_text(alice_key)),
        gate_service.gate_rules.HOLDER_CHANGED,
    )  # offline too
    again = client.post(
        f"/tickets/{ticket['id']}/device",
        json={"public_key": codes.public_key_text(alice_key)},
        headers=alice["headers"],
    )
    assert again.status_code == 404  # alice cannot bind it any more
    bob_key = bind_key(client, bob, ticket["id"])
    assert post(client, gate, "scan", {"code": codes.sign_code(bob_key, ticket["id"])})["admit"] is True


def test_the_chain_state_refuses_used_and_cancelled(
    app, chain, client, gate, holder, new_fan, issue, collection, organiser
):
    """Check-ins and cancellation seen on chain by the indexer: `already_checked_in`, `cancelled`."""
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    other_fan = new_fan()
    [second] = issue(other_fan, key="second")["tickets"]
    second_key = bind_key(client, other_fan, second["id"])
    indexer = Indexer(app.state.runtime.engine, chain, confirmations=0)
    collection.check_in([ticket["token_id"]], sender=organiser)  # checked in by another system, on chain
    indexer.poll_once()
    assert (
        post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"])})["reason"]
        == "already_checked_in"
    )
    assert post(client, gate, "verify", {"code": codes.sign_code(second_key, second["id"])})["admit"] is True
    collection.cancel_event(sender=organiser)
    indexer.poll_once()
    gate_service.forget_cancellations()  # a process reuses the answer for gate_cache_seconds
    assert (
        post(client, gate, "scan", {"code": codes.sign_code(second_key, second["id"])})["reason"]
        == "cancelled"
    )
    collection.refund_batch([second["token_id"]], sender=organiser)  # burned
    indexer.poll_once()
    assert (
        post(client, gate, "verify", {"code": codes.sign_code(second_key, second["id"])})["reason"]
        == "cancelled"
    )
    assert rows(app, Admission) == []


def test_a_retried_scan_is_answered_again_without_a_second_admission(
    app, client, org, gw_event, gate, holder
):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    code = codes.sign_code(key, ticket["id"])
    assert post(client, gate, "scan", {"code": code, "nonce": "n-1"})["admit"] is True
    assert (
        post(client, gate, "scan", {"code": code, "nonce": "n-1"})["admit"] is True
    )  # the same scan, retried
    assert post(client, gate, "scan", {"code": code, "nonce": "n-2"})["reason"] == "already_checked_in"
    assert post(client, gate, "scan", {"code": code})["reason"] == "already_checked_in"
    south = make_gate_key(client, org, gw_event["id"], label="South")
    assert post(client, south, "scan", {"code": code, "nonce": "n-1"})["reason"] == "already_checked_in"
    assert len(rows(app, Admission)) == 1 and len(rows(app, GateRefusal)) == 3


def test_bad_input_is_a_clear_refusal_never_a_500(app, client, org, gw_event, gate, holder):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    code = codes.sign_code(key, ticket["id"])
    garbage = [
        "",
        "hello",
        "TK1.",
        code[:-1],
        code[:100],
        code + "A",
        code + "=",
        "tk1" + code[3:],
        " " + code,
        code[:-2] + "é",
        "TK1." + "\u0000" * 112,
        "A" * 512,
        json.dumps({"code": code}),
        code.replace("TK1", "TK2"),
    ]
    for path in ("verify", "scan"):
        for text in garbage:
            response = client.post(f"/gate/{path}", json={"code": text}, headers=gate["headers"])
            assert response.status_code in (200, 422), (text, response.text)
            if response.status_code == 200:
                assert response.json() == {
                    "admit": False,
                    "reason": "malformed_code",
                    "ticket_id": None,
                    "token_id": None,
                    "tier_id": None,
                    "tier_name": None,
                }, text
            else:  # a NUL character is refused before it reaches a route
                assert response.json()["error"] == "nul_character" and "\u0000" in text
    headers = gate["headers"]
    for body, status, error in (
        ({"code": "A" * 513}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"code": 42}, 422, "invalid_request"),
        ({"code": None}, 422, "invalid_request"),
        ([code], 422, "invalid_request"),
        ({"code": code, "device": "x" * 101}, 422, "invalid_request"),
    ):
        response = client.post("/gate/scan", json=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (status, error), body
    json_headers = headers | {"Content-Type": "application/json"}
    not_json = client.post("/gate/scan", content=b"{not json", headers=json_headers)
    assert not_json.status_code == 422 and not_json.json()["error"] == "invalid_request"
    not_text = client.post("/gate/scan", content=b"\xff\xfe{", headers=json_headers)
    assert not_text.status_code == 400 and not_text.json()["error"] == "bad_request"
    empty = client.post("/gate/scan", headers=headers)
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_request"
    huge = client.post("/gate/scan", content=json.dumps({"code": "A" * 200_000}), headers=headers)
    assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
    assert client.post("/gate/scan", json={"code": code}).status_code == 401
    organiser = client.post("/gate/scan", json={"code": code}, headers=org["headers"])
    assert organiser.status_code == 403 and organiser.json()["error"] == "gate_key_required"
    # after all that, the genuine code still admits, once
    assert post(client, gate, "scan", {"code": code})["admit"] is True
    assert len(rows(app, Admission)) == 1


# ---- self-custody: the wallet binds
def test_a_self_custody_holder_binds_with_a_wallet_signature(
    app, chain, client, org, make_event, fans, organiser, operator
):
    collection = make_event(gifts_allowed=True)
    event = client.post(
        "/events", json={"collection_address": collection.address}, headers=org["headers"]
    ).json()
    gate = make_gate_key(client, org, event["id"])
    wallet, buyer2 = fans[0], fans[1]
    [token_id] = collection.buy(0, sender=wallet)
    indexer = Indexer(app.state.runtime.engine, chain, confirmations=0)
    indexer.poll_once()  # the ticket's record, held by no account: self-custody
    found = client.get(f"/tickets/by-token/{collection.address.lower()}/{token_id}")
    assert found.status_code == 200, found.text
    ticket = found.json()
    assert ticket["token_id"] == token_id and ticket["event_id"] == event["id"]
    assert client.get(f"/tickets/by-token/{collection.address}/999").json()["error"] == "ticket_not_found"
    key = codes.new_device_key()
    public = codes.public_key_text(key)
    response = client.get(f"/tickets/{ticket['id']}/device-message", params={"public_key": public})
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["ticket_id"] == ticket["id"] and 590 <= message["expires_at"] - time.time() <= 600
    for part in (
        ticket["id"],
        str(chain.chain_id),
        collection.address,
        f"Token ID: {token_id}",
        public,
        str(message["expires_at"]),
    ):
        assert part in message["message"], part

    def sign(account, text):
        return account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()

    url = f"/tickets/{ticket['id']}/device"
    body = {
        "public_key": public,
        "wallet_signature": sign(wallet, message["message"]),
        "expires_at": message["expires_at"],
    }
    impostor = client.post(url, json=body | {"wallet_signature": sign(buyer2, message["message"])})
    assert impostor.status_code == 403 and impostor.json()["error"] == "not_owner"
    moved = client.post(url, json=body | {"expires_at": message["expires_at"] + 1})  # not what was signed
    assert moved.status_code == 403 and moved.json()["error"] == "not_owner"
    no_expiry = client.post(url, json=body | {"expires_at": None})
    assert no_expiry.status_code == 422 and no_expiry.json()["error"] == "invalid_expiry"
    old = int(time.time()) - 5
    with Session(app.state.runtime.engine) as session:  # closed: an open read would block the teardown
        stale_text = gate_service.binding_message(
            gate_service._ticket(session, uuid.UUID(ticket["id"])), public, old
        )
    stale = client.post(url, json=body | {"wallet_signature": sign(wallet, stale_text), "expires_at": old})
    assert stale.status_code == 422 and stale.json()["error"] == "message_expired"
    garbage = client.post(url, json=body | {"wallet_signature": "0x" + "00" * 65})
    assert garbage.status_code == 422 and garbage.json()["error"] == "bad_signature"
    bound = client.post(url, json=body)
    assert bound.status_code == 201, bound.text
    assert (bound.json()["holder"], bound.json()["bound_by"]) == (wallet.address, "wallet")
    assert post(client, gate, "verify", {"code": codes.sign_code(key, ticket["id"])})["admit"] is True
    # sold on: the old holder's key stops admitting
    collection.gift(token_id, buyer2.address, sender=wallet)
    indexer.poll_once()
    assert post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"])})["reason"] == "not_owner"
    assert rows(app, Admission) == []


# ---- offline
def test_a_snapshot_is_signed_and_lists_what_a_gate_needs(
    app, client, gate, holder, new_fan, issue, settings
):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    assert post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"])})["admit"] is True
    bob = new_fan()
    [second, unbound] = issue(bob, key="two", quantity=2)["tickets"]
    replaced = bind_key(client, bob, second["id"])
    current = bind_key(client, bob, second["id"])
    response = client.get("/gate/snapshot", headers=gate["headers"])
    assert response.status_code == 200, response.text
    snap = response.json()
    public = client.get("/gate/snapshot-key").json()["public_key"]
    assert snap["public_key"] == public == codes.public_key_text(gate_service.signing_key(settings))
    assert codes.verify_bytes(codes.load_public_key(public), snap["payload"].encode(), snap["signature"])
    assert not codes.verify_bytes(
        codes.load_public_key(public), snap["payload"].replace("false", "true").encode(), snap["signature"]
    )
    payload = json.loads(snap["payload"])
    assert (payload["version"], payload["event_id"], payload["window_seconds"], payload["cancelled"]) == (
        3,
        ticket["event_id"],
        15,
        False,
    )
    assert payload["fields"] == [
        "id",
        "token_id",
        "tier_id",
        "device_key",
        "flags",
        "entries",
        "exits",
        "days",
    ]
    assert payload["tiers"] == {"0": "General"}
    assert payload["rules"] == {
        "order": list(gate_service.REASONS),
        "window_seconds": 15,
        "drift_windows": 1,
        "entry_policy": "single",
        "days": [],
        "timezone": "UTC",
        "offline_unlisted": "refuse",
        "tier_policies": {},
    }
    assert (payload["event_name"], payload["gate_label"]) == ("Gig", "North door")
    assert abs(payload["generated_at"] - time.time()) < 60
    by_id = {t[0]: t for t in payload["tickets"]}
    listed = lambda t: by_id[gate_service.gate_rules.list_id(uuid.UUID(t["id"]))]
    assert listed(ticket) == [
        codes.b64url(uuid.UUID(ticket["id"]).bytes[:8]),
        ticket["token_id"],
        0,
        codes.compress_public_key(codes.public_key_text(key)),
        2,
    ]  # flags: checked in
    assert codes.load_public_key(listed(ticket)[3]).public_numbers() == key.public_key().public_numbers()
    assert listed(second)[3] == codes.compress_public_key(codes.public_key_text(current))
    assert listed(second)[4] == 0
    assert listed(unbound)[3] is None
    assert [(r["ticket_id"], r["public_key"]) for r in payload["revoked_keys"]] == [
        (second["id"], codes.public_key_text(replaced))
    ]
    # the same key signs in every process: configured, or derived from the secret
    assert client.get("/gate/snapshot", headers=bearer("tkg_nope")).status_code == 401


def _at(moment: datetime) -> str:
    return moment.isoformat()


def test_offline_scans_sync_once_and_a_double_admission_is_a_conflict(
    app, client, org, gw_event, gate, holder, new_fan, issue
):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    south = make_gate_key(client, org, gw_event["id"], label="South door")
    t1 = datetime.now(UTC) - timedelta(minutes=10)
    t2 = t1 + timedelta(seconds=40)
    north_scan = {
        "code": codes.sign_code(key, ticket["id"], codes.window_of(t1.timestamp())),
        "scanned_at": _at(t1),
    }
    south_scan = {
        "code": codes.sign_code(key, ticket["id"], codes.window_of(t2.timestamp())),
        "scanned_at": _at(t2),
    }
    north = post(client, gate, "sync", {"device": "tablet-n", "scans": [north_scan]})
    assert north == {
        "results": [
            {
                "result": "admitted",
                "reason": None,
                "ticket_id": ticket["id"],
                "token_id": ticket["token_id"],
                "admitted_by": None,
            }
        ]
    }
    again = post(client, gate, "sync", {"device": "tablet-n", "scans": [north_scan]})
    assert again["results"][0]["result"] == "already_admitted_here"
    first = post(client, south, "sync", {"device": "tablet-s", "scans": [south_scan]})["results"][0]
    assert first["result"] == "conflict"
    assert first["admitted_by"] == {
        "gate_key_id": gate["id"],
        "gate_label": "North door",
        "device": "tablet-n",
        "source": "offline",
        "scanned_at": t1.isoformat().replace("+00:00", "Z"),
    }
    assert post(client, south, "sync", {"device": "tablet-s", "scans": [south_scan]})["results"][0] == first
    [admission] = rows(app, Admission)
    assert (admission.source, admission.device, str(admission.gate_key_id)) == (
        "offline",
        "tablet-n",
        gate["id"],
    )
    assert admission.scanned_at == t1
    [conflict] = rows(app, GateConflict)
    assert (str(conflict.admission_id), str(conflict.gate_key_id), conflict.device, conflict.scanned_at) == (
        str(admission.id),
        south["id"],
        "tablet-s",
        t2,
    )
    report = client.get(f"/events/{gw_event['id']}/gate-conflicts", headers=org["headers"])
    assert report.status_code == 200, report.text
    [entry] = report.json()
    assert (entry["ticket_id"], entry["token_id"]) == (ticket["id"], ticket["token_id"])
    assert (entry["counted"]["gate_label"], entry["counted"]["device"]) == ("North door", "tablet-n")
    assert (entry["other"]["gate_label"], entry["other"]["device"], entry["other"]["source"]) == (
        "South door",
        "tablet-s",
        "offline",
    )
    stranger = client.post("/organisers", json={"name": "Other"}).json()
    assert (
        client.get(f"/events/{gw_event['id']}/gate-conflicts", headers=bearer(stranger["api_key"])).json()[
            "error"
        ]
        == "event_not_found"
    )
    assert client.get(f"/events/{gw_event['id']}/gate-conflicts", headers=gate["headers"]).status_code == 401
    # online, the ticket is taken
    assert (
        post(client, south, "scan", {"code": codes.sign_code(key, ticket["id"])})["reason"]
        == "already_checked_in"
    )


def test_a_sync_of_a_scan_admitted_online_with_its_nonce_is_no_conflict(
    app, client, org, gw_event, gate, holder
):
    """The gate's online scan admitted the ticket but the answer was lost; the gate decided offline with the
    same nonce and syncs it: its own admission, not a conflict. Any other nonce, or another gate: a
    conflict."""
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    t = datetime.now(UTC)
    code = codes.sign_code(key, ticket["id"], codes.window_of(t.timestamp()))
    assert (
        post(client, gate, "scan", {"code": code, "device": "tablet-n", "nonce": "n" * 64})["admit"] is True
    )
    offline = {"code": code, "scanned_at": _at(t + timedelta(seconds=1)), "nonce": "n" * 64}
    for _ in range(2):  # synced again: the same answer
        [result] = post(client, gate, "sync", {"device": "tablet-n", "scans": [offline]})["results"]
        assert result == {
            "result": "already_admitted_here",
            "reason": None,
            "ticket_id": ticket["id"],
            "token_id": ticket["token_id"],
            "admitted_by": None,
        }
    assert rows(app, GateConflict) == [] and rows(app, GateRefusal) == []
    [admission] = rows(app, Admission)
    assert (admission.source, admission.nonce, admission.device) == ("online", "n" * 64, "tablet-n")
    # another nonce from this gate (another decision), no nonce, or the same nonce from another gate:
    # conflicts
    south = make_gate_key(client, org, gw_event["id"], label="South door")
    others = [
        (gate, offline | {"nonce": "other"}),
        (gate, {"code": code, "scanned_at": _at(t + timedelta(seconds=2))}),
        (south, offline),
    ]
    for who, scan in others:
        [result] = post(client, who, "sync", {"device": "tablet-n", "scans": [scan]})["results"]
        assert result["result"] == "conflict", (who["label"], scan)
        assert (result["admitted_by"]["gate_key_id"], result["admitted_by"]["source"]) == (
            gate["id"],
            "online",
        )
    assert len(rows(app, GateConflict)) == 3 and rows(app, Admission) == [admission]
    report = client.get(f"/events/{gw_event['id']}/gate-conflicts", headers=org["headers"]).json()
    assert [e["other"]["gate_label"] for e in report] == ["North door", "North door", "South door"]
    # a nonce is at most 64 characters, and not empty
    for bad in ("n" * 65, ""):
        refused = client.post(
            "/gate/sync",
            json={"device": "tablet-n", "scans": [offline | {"nonce": bad}]},
            headers=gate["headers"],
        )
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_request", bad


def test_an_offline_admission_keeps_its_nonce(app, client, gate, holder):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    t = datetime.now(UTC) - timedelta(minutes=2)
    scan = {
        "code": codes.sign_code(key, ticket["id"], codes.window_of(t.timestamp())),
        "scanned_at": _at(t),
        "nonce": "abc",
    }
    assert (
        post(client, gate, "sync", {"device": "tablet", "scans": [scan]})["results"][0]["result"]
        == "admitted"
    )
    [admission] = rows(app, Admission)
    assert (admission.source, admission.nonce) == ("offline", "abc")
    again = post(client, gate, "sync", {"device": "tablet", "scans": [scan]})["results"][0]
    assert again["result"] == "already_admitted_here" and rows(app, GateConflict) == []


def test_sync_checks_every_code_is_genuine(app, client, gate, holder, new_fan, issue):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    bob = new_fan()
    [other] = issue(bob, key="other")["tickets"]
    other_key = bind_key(client, bob, other["id"])
    t = datetime.now(UTC) - timedelta(minutes=3)
    w = codes.window_of(t.timestamp())
    scans = [
        {"code": codes.sign_code(codes.new_device_key(), ticket["id"], w), "scanned_at": _at(t)},  # forged
        {"code": codes.sign_code(key, ticket["id"], w - 3), "scanned_at": _at(t)},  # old when it was scanned
        {"code": "TK1.garbage", "scanned_at": _at(t)},
        {"code": codes.sign_code(key, uuid.uuid4(), w), "scanned_at": _at(t)},
        {
            "code": codes.sign_code(other_key, other["id"], w),
            "scanned_at": _at(t.replace(tzinfo=None)),
        },  # naive: UTC
    ]
    results = post(client, gate, "sync", {"device": "tablet", "scans": scans})["results"]
    assert [(r["result"], r["reason"]) for r in results] == [
        ("rejected", "bad_signature"),
        ("rejected", "expired_code"),
        ("rejected", "malformed_code"),
        ("rejected", "unknown_ticket"),
        ("admitted", None),
    ]
    assert [str(a.ticket_id) for a in rows(app, Admission)] == [other["id"]]
    assert sorted(r.reason for r in rows(app, GateRefusal, GateRefusal.source == "offline")) == [
        "bad_signature",
        "expired_code",
        "malformed_code",
        "unknown_ticket",
    ]
    # the key that signed may have been replaced since: the code was still genuine when scanned
    bind_key(client, holder["fan"], ticket["id"])
    late = post(
        client,
        gate,
        "sync",
        {
            "device": "tablet",
            "scans": [{"code": codes.sign_code(key, ticket["id"], w), "scanned_at": _at(t)}],
        },
    )["results"]
    assert late[0]["result"] == "admitted"
    too_many = client.post(
        "/gate/sync", json={"device": "tablet", "scans": [scans[0]] * 201}, headers=gate["headers"]
    )
    assert too_many.status_code == 422 and too_many.json()["error"] == "invalid_request"
    no_device = client.post("/gate/sync", json={"scans": []}, headers=gate["headers"])
    assert no_device.status_code == 422


def test_a_snapshot_delta_carries_only_what_changed_since_its_cursor(
    app, client, gate, holder, new_fan, issue
):
    ticket = holder["ticket"]
    key = bind_key(client, holder["fan"], ticket["id"])
    issue(new_fan(), key="two", quantity=2)
    full = json.loads(client.get("/gate/snapshot", headers=gate["headers"]).json()["payload"])
    assert full["kind"] == "full" and len(full["tickets"]) == 3
    with Session(app.state.runtime.engine) as session:  # the full snapshot was read well before the changes
        session.exec(update(DeviceKey).values(created_at=datetime.now(UTC) - timedelta(minutes=5)))
        session.exec(update(Ticket).values(created_at=datetime.now(UTC) - timedelta(minutes=5)))
        session.commit()
    cursor = json.loads(client.get("/gate/snapshot", headers=gate["headers"]).json()["payload"])["cursor"]
    assert post(client, gate, "scan", {"code": codes.sign_code(key, ticket["id"])})["admit"] is True
    response = client.get("/gate/snapshot", params={"since": cursor}, headers=gate["headers"])
    assert response.status_code == 200, response.text
    snap = response.json()
    assert codes.verify_bytes(
        codes.load_public_key(snap["public_key"]), snap["payload"].encode(), snap["signature"]
    )
    delta = json.loads(snap["payload"])
    assert (delta["kind"], delta["since"]) == ("delta", cursor)
    assert [t[0] for t in delta["tickets"]] == [gate_service.gate_rules.list_id(uuid.UUID(ticket["id"]))]
    assert delta["tickets"][0][4] == 2 and delta["cursor"] != cursor  # checked in; the others did not change
    for bad in ["yesterday", "1:2:3", f"{time.time() + 3600}:0", "-1:0"]:
        response = client.get("/gate/snapshot", params={"since": bad}, headers=gate["headers"])
        assert (response.status_code, response.json()["error"]) == (422, "invalid_cursor"), bad
