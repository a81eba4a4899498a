"""Gateway fixtures: the app over a real anvil, on SQLite (tmp file) and on PostgreSQL (a fresh database
per test session, emptied after each test)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from gateway.models import FanSession, utcnow


def age_fan_sessions(engine, fan_id: str, days: float) -> None:
    """Move a fan's sessions `days` into the past, as if unused since."""
    then = utcnow() - timedelta(days=days)
    with Session(engine) as session:
        session.execute(
            update(FanSession)
            .where(FanSession.fan_id == uuid.UUID(fan_id))
            .values(created_at=then, last_used_at=then)
        )
        session.commit()


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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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


def make_gate_key(client, org, event_id, label=None):
    kwargs = {"json": {"label": label}} if label is not None else {}
    response = client.post(f"/events/{event_id}/gate-keys", headers=org["headers"], **kwargs)
    assert response.status_code == 201, response.text
    return response.json() | {"headers": bearer(response.json()["api_key"])}


# ---- the gate (tests/gateway/test_gate*.py)
@pytest.fixture()
def gate(client, org, gw_event):
    return make_gate_key(client, org, gw_event["id"], label="North door")


@pytest.fixture()
def holder(new_fan, issue):
    """A fan with one General ticket (tier 0) and a bound device key."""
    fan = new_fan()
    [ticket] = issue(fan)["tickets"]
    return {"fan": fan, "ticket": ticket}
