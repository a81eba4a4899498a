"""Hardening fixtures: one seeded gateway world over the session anvil, with every role the API knows.

`world` holds two organisers (A owns event A, B owns event B), two fans (X holds two tickets of event A,
one of them listed for resale; Y holds one ticket of event A), a gate key for each event, and the
Authorization header of each role. The app comes from tests/conftest.py; World, ROLES and the helpers
from tests/utils/world.py.
"""

from __future__ import annotations

import pytest

from tests.utils.http import bearer
from tests.utils.world import World, idempotency, ok


@pytest.fixture()
def database_url(request, tmp_path):
    """SQLite, unless a test parametrizes it (indirect) with "postgresql" (pg_database_url,
    tests/conftest.py)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("pg_database_url")
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture()
def gateway_collection(make_event, organiser, operator):
    """make(**make_event overrides) -> a collection the gateway's operator may mint and move tickets of."""

    def make(**overrides):
        overrides.setdefault("gifts_allowed", True)  # the fans' gift endpoint is part of the world
        event = make_event(**overrides)
        event.grant_role("MINTER_ROLE", operator.address, sender=organiser)
        event.grant_role("GATEWAY_ROLE", operator.address, sender=organiser)
        return event

    return make


@pytest.fixture()
def world(app, chain, gateway_collection):
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        orgs = {
            n: ok(client.post("/organisers", json={"name": f"Organiser {n.upper()}"})) for n in ("a", "b")
        }
        collections = {n: gateway_collection() for n in ("a", "b")}
        events = {
            n: ok(
                client.post(
                    "/events",
                    json={"collection_address": collections[n].address, "name": f"Gig {n.upper()}"},
                    headers=bearer(orgs[n]["api_key"]),
                )
            )
            for n in ("a", "b")
        }
        fans = {n: ok(client.post("/fans", json={})) for n in ("x", "y")}
        org_a = bearer(orgs["a"]["api_key"])
        issue_x = ok(
            client.post(
                f"/events/{events['a']['id']}/tickets/issue",
                headers=org_a | idempotency(),
                json={"fan_id": fans["x"]["id"], "tier_id": 0, "quantity": 2, "payment_reference": "seed-x"},
            )
        )
        issue_y = ok(
            client.post(
                f"/events/{events['a']['id']}/tickets/issue",
                headers=org_a | idempotency(),
                json={"fan_id": fans["y"]["id"], "tier_id": 0, "quantity": 1, "payment_reference": "seed-y"},
            )
        )
        tickets = {"x": issue_x["tickets"][0], "x_listed": issue_x["tickets"][1], "y": issue_y["tickets"][0]}
        price = collections["a"].resale_cap_of(tickets["x_listed"]["token_id"])
        listing = ok(
            client.post(
                f"/tickets/{tickets['x_listed']['id']}/resale",
                json={"price_wei": price},
                headers=bearer(fans["x"]["session_token"]) | idempotency(),
            )
        )
        gate_keys = {
            n: ok(client.post(f"/events/{events[n]['id']}/gate-keys", headers=bearer(orgs[n]["api_key"])))
            for n in ("a", "b")
        }
        world = World(
            client=client,
            app=app,
            chain=chain,
            orgs=orgs,
            events=events,
            collections=collections,
            fans=fans,
            tickets=tickets,
            listing=listing,
            gate_keys=gate_keys,
            make_collection=gateway_collection,
        )
        world.secrets_seen |= {o["api_key"] for o in orgs.values()}
        world.secrets_seen |= {g["api_key"] for g in gate_keys.values()}
        world.secrets_seen |= {f["session_token"] for f in fans.values()}
        yield world
