"""What the hardening runs found, pinned down (each failed before its fix; see docs/hardening.md):

1. NUL characters in input → PostgreSQL refused the INSERT: a 500 (the fuzz, POST /organisers and POST /fans).
2. A JSON body that is not UTF-8 (FastAPI cannot parse it) → 400 with the catch-all code `http_error`.
3. The OpenAPI document described 422 bodies as FastAPI's HTTPValidationError and HTML routes' errors as HTML.
4. The indexer moved a ticket the gateway had just gifted back to the giver, until the gift was confirmed
   (the soak: the recipient got 404 on their own ticket).
5. The indexer recording a mint before the gateway completed the issuance → the issuance's INSERT hit the
   unique key: a 500, and the issuance stayed pending for good (the soak).
6. GET /tickets/by-token/{contract}/{token_id} with a token id over 2**31 - 1 (the route allows < 2**63) →
   PostgreSQL's INTEGER column refused the comparison: a 500 (the fuzz with 200 examples).
7. (issue 12) A JSON body nested 400 deep holding a \u0000 escape → RecursionError in the NUL check: a 500 on
   every route. `/gate/sync` with `scanned_at` 0001-01-01T00:00:00+14:00 or 9999-12-31T23:59:59-14:00 →
   OverflowError: a 500. `{"price_wei": false}` → a listing at price 0 (201); an integer `scanned_at` accepted
   though the schema says a date-time string. The OpenAPI document marked `Idempotency-Key` optional.
"""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session, select

from gateway.indexer import Indexer
from gateway.models import Event, IssueRequest, Organiser, Ticket
from gateway.services import sending
from gateway.services import tickets as ticket_service
from tests.utils.http import bearer
from tests.utils.world import idempotency, ok


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_nul_characters_are_refused_with_422(world, database_url):
    client = world.client
    for response in (
        client.post("/organisers", json={"name": "Acme\u0000"}),
        client.post("/fans", json={"email": "a\u0000@b.example"}),
        client.post("/fans", json={"email": "a@b.example", "x": {"y": ["\u0000"]}}),
        client.get(
            f"/events/{world.events['a']['id']}/tiers/0/presale-eligibility", params={"address": "0x\u0000"}
        ),
    ):
        assert response.status_code == 422 and response.json()["error"] == "nul_character", response.text
    # an escaped backslash before "u0000" is not a NUL
    assert client.post("/organisers", json={"name": "back\\u0000slash"}).status_code == 201


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_token_id_beyond_the_column_is_not_found(world, database_url):
    contract, known = world.collections["a"].address, world.tickets["x"]["token_id"]
    assert world.client.get(f"/tickets/by-token/{contract}/{known}").status_code == 200
    for token_id in (2**31, 2**40, 2**63 - 1):
        response = world.client.get(f"/tickets/by-token/{contract}/{token_id}")
        assert response.status_code == 404 and response.json()["error"] == "ticket_not_found", response.text


def test_an_unparseable_body_is_400_bad_request(world):
    response = world.client.post(
        "/organisers", content=b"\xe6\x9fE", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"] == "bad_request", response.text


def test_the_document_describes_json_error_bodies(world):
    paths = world.client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # replaced by 4XX: the gateway's own body
            schema = responses["4XX"]["content"]["application/json"]["schema"]
            assert schema["required"] == ["error"]
            assert list(responses["4XX"]["content"]) == ["application/json"], (method, path)


def _gift(world, ticket_id: str) -> None:
    ok(
        world.client.post(
            f"/tickets/{ticket_id}/gift",
            json={"to_fan": world.fans["y"]["id"]},
            headers=bearer(world.fans["x"]["session_token"]) | idempotency(),
        )
    )


def test_the_indexer_does_not_undo_an_unconfirmed_gift(world, chain):
    indexer = Indexer(world.app.state.runtime.engine, chain, confirmations=1)
    ticket = world.tickets["x"]
    _gift(world, ticket["id"])  # the last block: the issuance before it is confirmed, the gift is not
    indexer.poll_once()
    as_y = world.client.get(f"/tickets/{ticket['id']}", headers=bearer(world.fans["y"]["session_token"]))
    assert as_y.status_code == 200, as_y.text
    assert (
        world.client.get(
            f"/tickets/{ticket['id']}", headers=bearer(world.fans["x"]["session_token"])
        ).status_code
        == 404
    )
    chain.rpc("anvil_mine", [1])
    indexer.poll_once()  # the gift confirmed: the same owner, now from the chain too
    with Session(world.app.state.runtime.engine) as session:
        assert str(session.get(Ticket, uuid.UUID(ticket["id"])).owner_fan_id) == world.fans["y"]["id"]


def index_when_mined(runtime, indexer) -> None:
    runtime.chain().wait_for_pending(
        runtime.operator().address, timeout=10
    )  # else the indexer may find nothing yet
    assert indexer.poll_once().events > 0


def test_an_issuance_completes_when_the_indexer_recorded_its_mint_first(world, chain):
    runtime = world.app.state.runtime
    runtime.settings.send_wait_seconds = 0  # answered pending: the worker is run step by step below
    indexer = Indexer(runtime.engine, chain, confirmations=0)
    with Session(runtime.engine) as session:
        event = session.get(Event, uuid.UUID(world.events["a"]["id"]))
        organiser = session.get(Organiser, event.organiser_id)
        issuance = ticket_service.issue_tickets(
            session=session,
            runtime=runtime,
            organiser=organiser,
            event=event,
            data=IssueRequest(
                fan_id=uuid.UUID(world.fans["y"]["id"]), tier_id=0, quantity=2, payment_reference="race"
            ),
            idempotency_key="indexer-first",
        )
        assert issuance.status == "pending"
    sending.run_once(runtime)  # signed and broadcast; the indexer records the mint before the worker sees it
    index_when_mined(runtime, indexer)
    sending.settle(runtime)
    with Session(runtime.engine) as session:
        issuance = session.get(type(issuance), issuance.id)
        assert issuance.status == "done"
        tickets = session.exec(select(Ticket).where(Ticket.issuance_id == issuance.id)).all()
        assert len(tickets) == 2 and {str(t.owner_fan_id) for t in tickets} == {world.fans["y"]["id"]}
        assert len(session.exec(select(Ticket).where(Ticket.issuance_id.is_(None))).all()) == 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_deeply_nested_body_is_a_4xx_on_every_kind_of_route(world, database_url):
    nested = "[" * 400 + '"\\u0000"' + "]" * 400
    deeper = "[" * 5000 + "]" * 5000
    headers = {"Content-Type": "application/json"}
    for path in ("/organisers", "/fans", "/gate/sync", f"/tickets/{world.tickets['x']['id']}/resale"):
        for body in (nested, '{"name": ' + nested + "}", deeper):
            response = world.client.post(
                path, content=body, headers=headers | bearer(world.fans["x"]["session_token"])
            )
            assert 400 <= response.status_code < 500 and "error" in response.json(), (path, response.text)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_offline_scan_times_out_of_range_or_not_text_are_422(world, database_url):
    gate = bearer(world.gate_keys["a"]["api_key"])
    for scanned_at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", 1_700_000_000, True):
        response = world.client.post(
            "/gate/sync",
            headers=gate,
            json={"device": "d1", "scans": [{"code": "TK1.x", "scanned_at": scanned_at}]},
        )
        assert response.status_code == 422 and response.json()["error"] == "invalid_request", response.text
        assert response.json()["detail"][0]["loc"][-1] == "scanned_at"


def test_amounts_are_integers_or_digit_strings_never_booleans_or_fractions(world):
    ticket = world.tickets["x"]
    for price in (False, True, 1.5, "1e18", "-1", "0x10", None):
        response = world.client.post(
            f"/tickets/{ticket['id']}/resale",
            json={"price_wei": price},
            headers=bearer(world.fans["x"]["session_token"]) | idempotency(),
        )
        assert response.status_code == 422 and response.json()["error"] == "invalid_request", (
            price,
            response.text,
        )


def test_the_document_marks_idempotency_key_required_where_it_is(world):
    document = world.client.get("/openapi.json").json()
    needing = [
        (path, method)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if any(p["name"].lower() == "idempotency-key" for p in op.get("parameters", ()))
    ]
    assert ("/tickets/{ticket_id}/gift", "post") in needing and len(needing) >= 4
    for path, method in needing:
        [parameter] = [
            p for p in document["paths"][path][method]["parameters"] if p["name"].lower() == "idempotency-key"
        ]
        assert parameter["required"] is True, (path, method)
