"""Crash safety: a process dying between sending a transaction and recording its outcome."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gateway.models import BuyRequest, Fan, GiftRequest, ResaleListing, ResaleSettlement, Ticket, Transfer
from gateway.services import recovery, resale, tickets


class Crash(Exception):
    pass


def crash() -> None:
    raise Crash("the process died after sending")


def gift_then_crash(runtime, giver, receiver, ticket, *, idempotency_key: str) -> None:
    """The gift service sends its transaction, then the process dies before recording the outcome."""
    with Session(runtime.engine) as session, pytest.raises(Crash):
        tickets.gift_ticket(session=session, runtime=runtime, fan=session.get(Fan, uuid.UUID(giver["id"])),
                            ticket_id=uuid.UUID(ticket["id"]), data=GiftRequest(to_fan=uuid.UUID(receiver["id"])),
                            idempotency_key=idempotency_key, _after_send=crash)


def test_a_gift_that_crashed_after_sending_completes_on_retry(app, client, collection, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    runtime = app.state.runtime
    gift_then_crash(runtime, alice, bob, ticket, idempotency_key="gift-crash")
    with Session(runtime.engine) as session:
        [pending] = session.exec(select(Transfer)).all()
        assert pending.status == "pending" and pending.tx_hash and pending.raw_tx
    # anvil answers eth_sendRawTransaction before it has mined the block: wait for it, as the dead process would have
    runtime.chain().w3.eth.wait_for_transaction_receipt(pending.tx_hash, timeout=10, poll_latency=0.05)
    assert collection.owner_of(ticket["token_id"]) == bob["address"]  # sent, but not on record

    url, headers = f"/tickets/{ticket['id']}/gift", alice["headers"] | {"Idempotency-Key": "gift-crash"}
    retried = client.post(url, json={"to_fan": bob["id"]}, headers=headers)
    assert retried.status_code == 201, retried.text
    assert retried.json()["status"] == "done" and retried.json()["tx_hash"] == pending.tx_hash
    assert client.post(url, json={"to_fan": bob["id"]}, headers=headers).json() == retried.json()
    assert collection.nonce_of(alice["address"]) == 1  # moved exactly once
    assert client.get(f"/tickets/{ticket['id']}", headers=bob["headers"]).status_code == 200


def test_a_settlement_that_crashed_is_completed_by_the_reconciler(app, client, gw_event, collection, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    listing = client.post(f"/tickets/{ticket['id']}/resale", json={"price_wei": 7},
                          headers=alice["headers"] | {"Idempotency-Key": "l"}).json()
    runtime = app.state.runtime
    with Session(runtime.engine) as session, pytest.raises(Crash):
        resale.buy_listing(session=session, runtime=runtime, fan=session.get(Fan, uuid.UUID(bob["id"])),
                           listing_id=uuid.UUID(listing["id"]), data=BuyRequest(payment_reference="pay-7"),
                           idempotency_key="buy-crash", _after_send=crash)
    in_flight = client.post(f"/listings/{listing['id']}/buy", json={"payment_reference": "pay-7"},
                            headers=new_fan()["headers"] | {"Idempotency-Key": "x"})
    assert in_flight.status_code == 409 and in_flight.json()["error"] == "listing_not_active"

    with Session(runtime.engine) as session:
        assert recovery.reconcile_pending(session, runtime) == {"done": 1, "dropped": 0, "pending": 0}
        assert recovery.reconcile_pending(session, runtime) == {"done": 0, "dropped": 0, "pending": 0}
        [settlement] = session.exec(select(ResaleSettlement)).all()
        assert settlement.status == "done" and settlement.transfer_id is not None
        assert session.get(ResaleListing, uuid.UUID(listing["id"])).status == "sold"
        assert session.get(Ticket, uuid.UUID(ticket["id"])).owner_fan_id == uuid.UUID(bob["id"])
        [transfer] = session.exec(select(Transfer)).all()
        assert (transfer.kind, transfer.price_wei, transfer.tx_hash) == ("resale", "7", settlement.tx_hash)
    assert collection.owner_of(ticket["token_id"]) == bob["address"]
    assert collection.nonce_of(alice["address"]) == 1
    retried = client.post(f"/listings/{listing['id']}/buy", json={"payment_reference": "pay-7"},
                          headers=bob["headers"] | {"Idempotency-Key": "buy-crash"})
    assert retried.status_code == 201 and retried.json()["status"] == "done"
    assert retried.json()["tx_hash"] == settlement.tx_hash


def test_pending_records_are_reconciled_at_app_start(app, client, collection, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    runtime = app.state.runtime
    gift_then_crash(runtime, alice, bob, ticket, idempotency_key="g")
    with TestClient(app):  # a restart: the lifespan reconciles
        pass
    with Session(runtime.engine) as session:
        [transfer] = session.exec(select(Transfer)).all()
        assert transfer.status == "done"
        assert session.get(Ticket, uuid.UUID(ticket["id"])).owner_fan_id == uuid.UUID(bob["id"])


def test_a_record_whose_transaction_never_left_is_dropped(app, client, collection, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    runtime = app.state.runtime
    with Session(runtime.engine) as session:
        session.add(Transfer(ticket_id=uuid.UUID(ticket["id"]), from_fan_id=uuid.UUID(alice["id"]),
                             to_fan_id=uuid.UUID(bob["id"]), idempotency_key="lost", request_hash="x" * 64))
        session.commit()
        assert recovery.reconcile_pending(session, runtime)["pending"] == 1  # young: maybe still in flight
        assert recovery.reconcile_pending(session, runtime, stale_after=0)["dropped"] == 1
        assert session.exec(select(Transfer)).all() == []
    assert collection.owner_of(ticket["token_id"]) == alice["address"]
