"""Linking a fan's own wallet by signing a one-time challenge; gate API keys scoped to one event."""

from __future__ import annotations

from datetime import timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import update
from sqlmodel import Session, select

from gateway.core.security import hash_token
from gateway.models import ApiKey, WalletChallenge, utcnow
from tests.utils.http import bearer


def _challenge(client, fan):
    response = client.post("/fans/me/wallet/challenge", headers=fan["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def _sign(account, message):
    return account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()


def test_fan_links_a_wallet_by_signing_the_challenge(app, client, new_fan):
    fan, wallet = new_fan(), Account.create()
    challenge = _challenge(client, fan)
    assert challenge["nonce"] in challenge["message"] and fan["id"] in challenge["message"]
    assert len(challenge["nonce"]) >= 16 and challenge["nonce"] != _challenge(client, fan)["nonce"]
    challenge = _challenge(client, fan)  # the latest is used when no nonce is given
    body = {"address": wallet.address.lower(), "signature": _sign(wallet, challenge["message"])}
    response = client.post("/fans/me/wallet", json=body, headers=fan["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["wallet_address"] == wallet.address  # stored checksummed
    me = client.get("/fans/me", headers=fan["headers"]).json()
    assert me == {"id": fan["id"], "address": fan["address"], "wallet_address": wallet.address}
    with Session(app.state.runtime.engine) as session:
        row = session.exec(select(WalletChallenge).where(WalletChallenge.nonce == challenge["nonce"])).one()
        assert row.used_at is not None and row.expires_at - row.created_at == timedelta(minutes=10)
    # an explicitly chosen (older, unused) nonce works too, and another fan cannot take the same wallet
    other = new_fan()
    mine = _challenge(client, other)
    _challenge(client, other)
    taken = client.post(
        "/fans/me/wallet",
        headers=other["headers"],
        json={"address": wallet.address, "signature": _sign(wallet, mine["message"]), "nonce": mine["nonce"]},
    )
    assert taken.status_code == 409 and taken.json()["error"] == "wallet_taken"


def test_a_nonce_works_once(client, new_fan):
    fan, wallet = new_fan(), Account.create()
    challenge = _challenge(client, fan)
    body = {
        "address": wallet.address,
        "signature": _sign(wallet, challenge["message"]),
        "nonce": challenge["nonce"],
    }
    assert client.post("/fans/me/wallet", json=body, headers=fan["headers"]).status_code == 200
    replay = client.post("/fans/me/wallet", json=body, headers=fan["headers"])
    assert replay.status_code == 409 and replay.json()["error"] == "nonce_used"
    without_nonce = client.post("/fans/me/wallet", json=body | {"nonce": None}, headers=fan["headers"])
    assert without_nonce.status_code == 409 and without_nonce.json()["error"] == "nonce_used"
    # another fan cannot use this fan's nonce
    stranger = client.post("/fans/me/wallet", json=body, headers=new_fan()["headers"])
    assert stranger.status_code == 404 and stranger.json()["error"] == "challenge_not_found"


def test_wrong_signer_is_refused_and_links_nothing(client, new_fan):
    fan, wallet, impostor = new_fan(), Account.create(), Account.create()
    challenge = _challenge(client, fan)
    wrong = client.post(
        "/fans/me/wallet",
        headers=fan["headers"],
        json={"address": wallet.address, "signature": _sign(impostor, challenge["message"])},
    )
    assert wrong.status_code == 422 and wrong.json()["error"] == "bad_signature"
    other_text = client.post(
        "/fans/me/wallet",
        headers=fan["headers"],
        json={"address": wallet.address, "signature": _sign(wallet, "something else")},
    )
    assert other_text.status_code == 422 and other_text.json()["error"] == "bad_signature"
    garbage = client.post(
        "/fans/me/wallet",
        headers=fan["headers"],
        json={"address": wallet.address, "signature": "0x" + "00" * 65},
    )
    assert garbage.status_code == 422 and garbage.json()["error"] == "bad_signature"
    assert client.get("/fans/me", headers=fan["headers"]).json()["wallet_address"] is None
    # a bad attempt does not burn the nonce: the real wallet can still sign it
    ok = client.post(
        "/fans/me/wallet",
        headers=fan["headers"],
        json={"address": wallet.address, "signature": _sign(wallet, challenge["message"])},
    )
    assert ok.status_code == 200 and ok.json()["wallet_address"] == wallet.address


def test_an_expired_challenge_is_refused(app, client, new_fan):
    fan, wallet = new_fan(), Account.create()
    challenge = _challenge(client, fan)
    with Session(app.state.runtime.engine) as session:
        session.exec(
            update(WalletChallenge)
            .where(WalletChallenge.nonce == challenge["nonce"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    expired = client.post(
        "/fans/me/wallet",
        headers=fan["headers"],
        json={"address": wallet.address, "signature": _sign(wallet, challenge["message"])},
    )
    assert expired.status_code == 409 and expired.json()["error"] == "nonce_expired"
    assert client.get("/fans/me", headers=fan["headers"]).json()["wallet_address"] is None


def test_malformed_link_requests_are_422(client, new_fan):
    fan, wallet = new_fan(), Account.create()
    challenge = _challenge(client, fan)
    signature = _sign(wallet, challenge["message"])
    for address in ("0x12", wallet.address[2:], wallet.address + "00", "0x" + "zz" * 20, 42):
        response = client.post(
            "/fans/me/wallet", json={"address": address, "signature": signature}, headers=fan["headers"]
        )
        assert response.status_code == 422 and response.json()["error"] == "invalid_request", address
    short = client.post(
        "/fans/me/wallet", json={"address": wallet.address, "signature": "0x1234"}, headers=fan["headers"]
    )
    assert short.status_code == 422 and short.json()["error"] == "invalid_request"
    assert client.post("/fans/me/wallet/challenge").status_code == 401
    assert (
        client.post("/fans/me/wallet", json={"address": wallet.address, "signature": signature}).status_code
        == 401
    )
    # nothing was burnt by the refusals
    ok = client.post(
        "/fans/me/wallet", json={"address": wallet.address, "signature": signature}, headers=fan["headers"]
    )
    assert ok.status_code == 200


# ---- gate keys


def _gate_key(client, org, event_id, expect=201):
    response = client.post(f"/events/{event_id}/gate-keys", headers=org["headers"])
    assert response.status_code == expect, response.text
    return response.json()


def test_organiser_creates_a_gate_key_shown_once(app, client, org, gw_event):
    key = _gate_key(client, org, gw_event["id"])
    assert key["api_key"].startswith("tkg_") and key["role"] == "gate" and key["event_id"] == gw_event["id"]
    with Session(app.state.runtime.engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(key["api_key"]))).one()
        assert (row.role, str(row.event_id), str(row.organiser_id)) == ("gate", gw_event["id"], org["id"])
    assert _gate_key(client, org, gw_event["id"])["api_key"] != key["api_key"]
    # only the owning organiser may create one; a gate key is not an organiser key
    stranger = client.post("/organisers", json={"name": "Other"}).json()
    assert (
        _gate_key(client, {"headers": bearer(stranger["api_key"])}, gw_event["id"], expect=404)["error"]
        == "event_not_found"
    )
    assert client.post(f"/events/{gw_event['id']}/gate-keys").status_code == 401
    as_gate = client.post(f"/events/{gw_event['id']}/gate-keys", headers=bearer(key["api_key"]))
    assert as_gate.status_code == 401
    assert client.get(f"/events/{gw_event['id']}", headers=bearer(key["api_key"])).status_code == 401


def test_gate_probe_accepts_only_a_gate_key_for_its_event(client, org, gw_event, make_event):
    key = _gate_key(client, org, gw_event["id"])
    ok = client.get(f"/gate/events/{gw_event['id']}", headers=bearer(key["api_key"]))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "id": gw_event["id"],
        "name": "Gig",
        "chain_id": gw_event["chain_id"],
        "collection_address": gw_event["collection_address"],
    }

    other = client.post(
        "/events",
        json={"collection_address": make_event().address, "name": "Other gig"},
        headers=org["headers"],
    )
    assert other.status_code == 201, other.text
    wrong = client.get(f"/gate/events/{other.json()['id']}", headers=bearer(key["api_key"]))
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_event"
    other_key = _gate_key(client, org, other.json()["id"])
    assert (
        client.get(f"/gate/events/{other.json()['id']}", headers=bearer(other_key["api_key"])).json()["name"]
        == "Other gig"
    )

    organiser = client.get(f"/gate/events/{gw_event['id']}", headers=org["headers"])
    assert organiser.status_code == 403 and organiser.json()["error"] == "gate_key_required"
    missing = client.get(f"/gate/events/{gw_event['id']}")
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    unknown = client.get(f"/gate/events/{gw_event['id']}", headers=bearer("tkg_nope"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "unauthorized"


def test_organiser_lists_and_revokes_a_gate_key(settings, client, org, gw_event, make_event):
    from gateway.services import gate as gate_service

    door, spare = _gate_key(client, org, gw_event["id"]), _gate_key(client, org, gw_event["id"])
    listed = client.get(f"/events/{gw_event['id']}/gate-keys", headers=org["headers"])
    assert listed.status_code == 200, listed.text
    assert [k["id"] for k in listed.json()] == [door["id"], spare["id"]]
    assert all("api_key" not in k and k["revoked_at"] is None for k in listed.json())
    probe = f"/gate/events/{gw_event['id']}"
    assert client.get(probe, headers=bearer(door["api_key"])).status_code == 200  # now cached in this process

    revoked = client.delete(f"/events/{gw_event['id']}/gate-keys/{door['id']}", headers=org["headers"])
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    again = client.delete(f"/events/{gw_event['id']}/gate-keys/{door['id']}", headers=org["headers"])
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # revoking twice changes nothing
    gate_service._key_cache.clear()  # as after gate_cache_seconds
    refused = client.get(probe, headers=bearer(door["api_key"]))
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert client.get(probe, headers=bearer(spare["api_key"])).status_code == 200

    # not yours, not this event's, not a gate key: 404, and nothing revoked
    stranger = bearer(client.post("/organisers", json={"name": "Other"}).json()["api_key"])
    other_event = client.post(
        "/events", json={"collection_address": make_event().address}, headers=org["headers"]
    ).json()
    for path, headers in [
        (f"/events/{gw_event['id']}/gate-keys/{spare['id']}", stranger),
        (f"/events/{other_event['id']}/gate-keys/{spare['id']}", org["headers"]),
        (f"/events/{gw_event['id']}/gate-keys/{org['id']}", org["headers"]),
    ]:
        response = client.delete(path, headers=headers)
        assert response.status_code == 404, (path, response.text)
    assert client.get(probe, headers=bearer(spare["api_key"])).status_code == 200
    assert client.get(f"/events/{gw_event['id']}/gate-keys", headers=stranger).status_code == 404


def test_organiser_rotates_an_api_key_but_never_revokes_the_last(client, org, gw_event):
    [first] = client.get("/organisers/me/api-keys", headers=org["headers"]).json()
    assert first["role"] == "organiser" and first["revoked_at"] is None and "api_key" not in first
    last = client.delete(f"/organisers/me/api-keys/{first['id']}", headers=org["headers"])
    assert last.status_code == 409 and last.json()["error"] == "last_organiser_key"

    created = client.post("/organisers/me/api-keys", json={"label": "box office"}, headers=org["headers"])
    assert created.status_code == 201 and created.json()["api_key"].startswith("tko_")
    new = {"headers": bearer(created.json()["api_key"])}
    assert client.get(f"/events/{gw_event['id']}", headers=new["headers"]).status_code == 200
    revoked = client.delete(f"/organisers/me/api-keys/{first['id']}", headers=new["headers"])
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    old = client.get(f"/events/{gw_event['id']}", headers=org["headers"])
    assert old.status_code == 401 and old.json()["error"] == "unauthorized"
    assert [k["label"] for k in client.get("/organisers/me/api-keys", headers=new["headers"]).json()] == [
        None,
        "box office",
    ]
    gate = _gate_key(client, new, gw_event["id"])  # a gate key is not an organiser key, here either
    response = client.delete(f"/organisers/me/api-keys/{gate['id']}", headers=new["headers"])
    assert response.status_code == 404 and response.json()["error"] == "api_key_not_found"


def test_migration_0005_adds_wallet_column_and_challenges(app):
    from sqlalchemy import inspect

    inspector = inspect(app.state.runtime.engine)
    assert "wallet_challenges" in inspector.get_table_names()
    assert "wallet_address" in {c["name"] for c in inspector.get_columns("fan_accounts")}
    assert any(
        i["unique"] and i["column_names"] == ["wallet_address"] for i in inspector.get_indexes("fan_accounts")
    )
