"""Gateway fixtures: the app over a real anvil (tests/conftest.py: `app`, `settings`, `operator`), on SQLite
(tmp file) and on PostgreSQL (a fresh database per test session, emptied after each test); the HTTP helpers'
organiser, event, fans and tickets; the gate's. Plain helpers: tests/utils/."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from gateway import models  # noqa: F401  # every table in SQLModel.metadata
from gateway.services import gate as gate_service
from tests.utils.gate import make_gate_key
from tests.utils.http import bearer


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
    else:
        yield request.getfixturevalue("pg_database_url")


@pytest.fixture()
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def org(client):
    response = client.post("/organisers", json={"name": "Acme Gigs"})
    assert response.status_code == 201, response.text
    return response.json() | {"headers": bearer(response.json()["api_key"])}


@pytest.fixture()
def collection(make_event, organiser, operator):
    """A collection (gifts allowed) whose roles let the gateway operator mint and move tickets."""
    event = make_event(gifts_allowed=True)
    event.grant_role("MINTER_ROLE", operator.address, sender=organiser)
    event.grant_role("GATEWAY_ROLE", operator.address, sender=organiser)
    return event


@pytest.fixture()
def gw_event(client, org, collection):
    response = client.post(
        "/events", json={"collection_address": collection.address, "name": "Gig"}, headers=org["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture()
def new_fan(client):
    def make(**body):
        response = client.post("/fans", json=body)
        assert response.status_code == 201, response.text
        return response.json() | {"headers": bearer(response.json()["session_token"])}

    return make


@pytest.fixture()
def issue(client, org, gw_event):
    def do(fan, *, key=None, tier_id=0, quantity=1, ref="pay-1", expect=201):
        response = client.post(
            f"/events/{gw_event['id']}/tickets/issue",
            json={"fan_id": fan["id"], "tier_id": tier_id, "quantity": quantity, "payment_reference": ref},
            headers=org["headers"] | {"Idempotency-Key": key or secrets.token_hex(8)},
        )
        assert response.status_code == expect, response.text
        return response.json()

    return do


# ---- the gate
@pytest.fixture()
def fresh_cancellation_cache():
    """The gate's cache of cancelled events emptied (`pytestmark = pytest.mark.usefixtures(...)`)."""
    gate_service.forget_cancellations()
    yield


@pytest.fixture()
def gate(client, org, gw_event):
    """A gate key ("North door") of the event, with its `headers`."""
    return make_gate_key(client, org, gw_event["id"], label="North door")


@pytest.fixture()
def holder(new_fan, issue):
    """A fan with one General ticket (tier 0) and a bound device key."""
    fan = new_fan()
    [ticket] = issue(fan)["tickets"]
    return {"fan": fan, "ticket": ticket}
