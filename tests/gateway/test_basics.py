from __future__ import annotations

import gc
import uuid

from sqlalchemy import inspect, select
from sqlmodel import Session

from gateway.core.security import hash_token
from gateway.models import ApiKey, Fan, FanContact
from gateway.services.fans import custodial_account


def test_migration_creates_every_table(app):
    tables = set(inspect(app.state.runtime.engine).get_table_names())
    assert {
        "organisers",
        "api_keys",
        "events",
        "tiers",
        "fan_accounts",
        "fan_sessions",
        "fan_contacts",
        "tickets",
        "issuances",
        "transfers",
        "resale_listings",
        "alembic_version",
    } <= tables


def test_organiser_bootstrap_returns_the_key_once_and_stores_only_its_hash(app, client, org):
    assert org["api_key"].startswith("tko_")
    with Session(app.state.runtime.engine) as session:
        [key] = session.execute(select(ApiKey)).scalars().all()
        assert key.key_hash == hash_token(org["api_key"]) and org["api_key"] not in key.key_hash
        assert key.role == "organiser"


def test_register_event_reads_tiers_from_chain(client, org, collection):
    response = client.post("/events", json={"collection_address": collection.address}, headers=org["headers"])
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["collection_address"] == collection.address
    assert event["badge_address"] == collection.badge().address
    assert [(t["name"], t["face_value_wei"], t["supply"]) for t in event["tiers"]] == [
        ("General", str(10**17), 100),
        ("VIP", str(5 * 10**17), 10),
    ]
    again = client.post("/events", json={"collection_address": collection.address}, headers=org["headers"])
    assert again.status_code == 409 and again.json()["error"] == "event_exists"
    assert client.get(f"/events/{event['id']}", headers=org["headers"]).json()["id"] == event["id"]


def test_register_event_refuses_bad_addresses_and_missing_keys(client, org, organiser):
    no_code = client.post("/events", json={"collection_address": organiser.address}, headers=org["headers"])
    assert no_code.status_code == 422 and no_code.json()["error"] == "not_a_collection"
    malformed = client.post("/events", json={"collection_address": "0x12"}, headers=org["headers"])
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_request"
    anonymous = client.post("/events", json={"collection_address": organiser.address})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    wrong = client.post(
        "/events", json={"collection_address": organiser.address}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401


def test_fan_account_is_custodial_encrypted_and_contact_is_erasable(app, client, new_fan):
    fan = new_fan(email="fan@example.org")
    assert fan["session_token"].startswith("tkf_") and fan["address"].startswith("0x")
    assert client.get("/fans/me", headers=fan["headers"]).json() == {
        "id": fan["id"],
        "address": fan["address"],
        "wallet_address": None,
    }
    with Session(app.state.runtime.engine) as session:
        row = session.get(Fan, uuid.UUID(fan["id"]))
        key = custodial_account(row, secret=app.state.runtime.secret()).key.hex()
        assert key and row.encrypted_key.startswith("v1:") and key not in row.encrypted_key.lower()
        assert session.get(FanContact, row.id).email == "fan@example.org"
    assert client.delete("/fans/me/contact", headers=fan["headers"]).status_code == 204
    with Session(app.state.runtime.engine) as session:
        assert session.get(FanContact, uuid.UUID(fan["id"])) is None
        assert session.get(Fan, uuid.UUID(fan["id"])) is not None
    assert "encrypted_key" not in client.post("/fans", json={}).text
    assert client.post("/fans", json={"email": "not-an-email"}).status_code == 422
    assert client.get("/fans/me").status_code == 401


def test_a_started_app_freezes_its_objects_out_of_the_collector(client):
    """The app's own ~200,000 objects are moved out of the garbage collector's generations at start-up
    (main._lifespan), so a full collection during a crowd walks only what requests left behind."""
    assert gc.get_freeze_count() > 50_000


def test_a_started_app_collects_its_youngest_objects_less_often(client):
    """main.GC_THRESHOLD: a crowd's in-flight requests are not walked by a full collection every second."""
    from gateway.main import GC_THRESHOLD

    assert gc.get_threshold() == GC_THRESHOLD
    assert GC_THRESHOLD[0] > 700
