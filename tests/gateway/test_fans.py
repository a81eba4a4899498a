"""Fans' sessions (one per device, revocable) and their data export, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets

from sqlmodel import Session, select

from gateway.models import Fan

from .conftest import bearer


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
    assert [s["revoked_at"] is None for s in client.get("/fans/me/sessions", headers=phone).json()] == [False, True]

    other = new_fan()  # someone else's session: 404, and nothing revoked
    refused = client.delete(f"/fans/me/sessions/{created.json()['id']}", headers=other["headers"])
    assert refused.status_code == 404 and refused.json()["error"] == "session_not_found"
    assert client.get("/fans/me", headers=phone).status_code == 200


def test_a_fan_exports_everything_kept_about_them(app, client, new_fan, issue):
    alice, bob = new_fan(email="alice@example.org"), new_fan()
    first, second = issue(alice, quantity=2)["tickets"]
    gift = client.post(f"/tickets/{first['id']}/gift", json={"to_fan": bob["id"]}, headers=_idempotent(alice["headers"]))
    assert gift.status_code == 201, gift.text
    listing = client.post(f"/tickets/{second['id']}/resale", json={"price_wei": 5},
                          headers=_idempotent(alice["headers"]))
    assert listing.status_code == 201, listing.text

    response = client.get("/fans/me/export", headers=alice["headers"])
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["account"] == {"id": alice["id"], "address": alice["address"], "wallet_address": None}
    assert data["email"] == "alice@example.org" and len(data["sessions"]) == 1
    assert [t["id"] for t in data["tickets"]] == [second["id"]]  # the gifted one is bob's now
    assert [(t["ticket_id"], t["from_fan"], t["to_fan"], t["kind"]) for t in data["transfers"]] == [
        (first["id"], alice["id"], bob["id"], "gift")]
    assert [(x["id"], x["price_wei"]) for x in data["listings"]] == [(listing.json()["id"], "5")]
    with Session(app.state.runtime.engine) as session:  # the custodial key and the token never leave
        encrypted = session.exec(select(Fan.encrypted_key).where(Fan.address == alice["address"])).one()
    assert encrypted not in response.text and alice["session_token"] not in response.text

    received = client.get("/fans/me/export", headers=bob["headers"]).json()
    assert [t["id"] for t in received["tickets"]] == [first["id"]] and received["email"] is None
    assert [t["to_fan"] for t in received["transfers"]] == [bob["id"]] and received["listings"] == []
    assert client.get("/fans/me/export").status_code == 401
