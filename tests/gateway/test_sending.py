"""The gateway's transaction pipeline (services/sending.py): writes answer `pending` and one worker finishes
them exactly once — through a crash between the chain and the database, reorganisations that remove a mined
issuance, gift or resale settlement, a revert on chain, and a fee ceiling that holds everything back."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select

from gateway.models import ChainTransaction, Issuance, Transfer
from gateway.services import sending
from tests.utils.resale import buy, list_ticket


@pytest.fixture()
def later(app):
    """The app answering writes at once (`pending`), the worker run by the test; `confirmations` settable."""
    runtime = app.state.runtime
    runtime.settings.send_wait_seconds = 0
    return runtime


def gift(client, giver, receiver, ticket, key):
    return client.post(
        f"/tickets/{ticket['id']}/gift",
        json={"to_fan": receiver["id"]},
        headers=giver["headers"] | {"Idempotency-Key": key},
    )


def test_a_write_answers_pending_and_the_worker_finishes_it_once(
    app, client, later, org, gw_event, collection, new_fan
):
    alice = new_fan()
    url = f"/events/{gw_event['id']}/tickets/issue"
    body = {"fan_id": alice["id"], "tier_id": 0, "quantity": 2, "payment_reference": "p"}
    headers = org["headers"] | {"Idempotency-Key": "later"}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 201 and first.json()["status"] == "pending" and first.json()["tickets"] == []
    again = client.post(url, json=body, headers=headers)
    assert (again.status_code, again.json()["error"]) == (409, "request_in_progress")
    sending.settle(later)
    done = client.post(url, json=body, headers=headers)
    assert done.status_code == 201 and done.json()["status"] == "done"
    assert [collection.owner_of(t["token_id"]) for t in done.json()["tickets"]] == [alice["address"]] * 2
    assert collection.total_minted() == 2  # once
    assert sending.health(later.engine) == sending.Health(
        pending=0,
        oldest_pending_seconds=None,
        oldest_pending_blocks=None,
        waiting_for_fees=0,
        reason=None,
        replacements=sending.health(later.engine).replacements,
    )


def test_a_worker_dying_between_the_chain_and_the_database_is_finished_by_the_next(
    app, client, later, collection, new_fan, issue, monkeypatch
):
    alice, bob = new_fan(), new_fan()
    later.settings.send_wait_seconds = 30
    [ticket] = issue(alice)["tickets"]
    later.settings.send_wait_seconds = 0
    assert gift(client, alice, bob, ticket, "g1").json()["status"] == "pending"

    def die(*args, **kwargs):
        raise SystemExit("the process died after its transaction was final")

    monkeypatch.setattr(sending, "_apply_finished", die)
    with pytest.raises(SystemExit):
        sending.run_once(later)
    assert collection.owner_of(ticket["token_id"]) == bob["address"]  # on chain, not on record
    monkeypatch.undo()
    sending.settle(later)
    retried = gift(client, alice, bob, ticket, "g1")
    assert retried.json()["status"] == "done" and retried.json()["tx_hash"]
    assert collection.nonce_of(alice["address"]) == 1  # moved exactly once
    assert client.get(f"/tickets/{ticket['id']}", headers=bob["headers"]).status_code == 200


def test_a_transaction_reverted_on_chain_drops_its_record_and_frees_the_key(
    app, client, later, collection, new_fan, issue, organiser
):
    alice, bob, carol = new_fan(), new_fan(), new_fan()
    later.settings.send_wait_seconds = 30
    [ticket] = issue(alice)["tickets"]
    later.settings.send_wait_seconds = 0
    assert gift(client, alice, bob, ticket, "to-bob").json()["status"] == "pending"
    refused = gift(client, alice, carol, ticket, "to-carol")  # her authorisation nonce is taken by the first
    assert (refused.status_code, refused.json()["error"]) == (409, "holder_transfer_pending")
    collection.cancel_event(sender=organiser)  # before the worker sends the gift: nothing moves any more
    sending.settle(later)
    with Session(later.engine) as session:
        assert session.exec(select(Transfer)).all() == []  # dropped
        [row] = session.exec(select(ChainTransaction).where(ChainTransaction.kind == "gift")).all()
    assert row.status == "reverted" and row.error.startswith("EventIsCancelled")
    assert collection.owner_of(ticket["token_id"]) == alice["address"]
    again = gift(client, alice, bob, ticket, "to-bob")  # the key is free again; the contract refuses at once
    assert (again.status_code, again.json()["error"]) == (409, "event_is_cancelled")


def _mined_then_reorged(later, depth):
    """Send what is queued, let it be mined, then replace the last `depth` blocks: the transaction is gone."""
    chain = later.chain()
    sending.run_once(later)  # signed and broadcast (anvil mines it at once, a moment after it answers)
    deadline = time.monotonic() + 10
    while True:
        sending.run_once(later)  # its receipt, shallower than `confirmations`
        with Session(later.engine) as session:
            [row] = session.exec(select(ChainTransaction).where(ChainTransaction.applied.is_(False))).all()
        if row.status != "sent" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert row.status == "mined"
    if depth > 1:
        chain.rpc("anvil_mine", [depth - 1])
    chain.rpc("anvil_reorg", [depth, []])
    assert chain.w3.eth.get_transaction_count(later.operator().address, "latest") == row.nonce
    sending.run_once(later)  # the receipt is gone: the same bytes again (mined at once: anvil automines)
    chain.rpc("anvil_mine", [later.settings.confirmations])
    sending.settle(later)
    with Session(later.engine) as session:
        row = session.get(ChainTransaction, row.id)
    assert (row.status, row.applied, row.reorgs) == ("final", True, 1)
    return row


@pytest.mark.parametrize("kind,depth", [("issuance", 1), ("gift", 3), ("settlement", 5)])
def test_a_reorg_removing_a_mined_write_lands_it_again_exactly_once(
    app, client, later, org, gw_event, collection, new_fan, issue, kind, depth
):
    alice, bob = new_fan(), new_fan()
    later.settings.send_wait_seconds = 30
    [ticket] = issue(alice)["tickets"]
    listing = list_ticket(client, alice, ticket, 10**16) if kind == "settlement" else None
    later.settings.send_wait_seconds, later.settings.confirmations = 0, 6
    if kind == "issuance":
        response = client.post(
            f"/events/{gw_event['id']}/tickets/issue",
            json={"fan_id": bob["id"], "tier_id": 0, "quantity": 3, "payment_reference": "r"},
            headers=org["headers"] | {"Idempotency-Key": "reorg"},
        )
    elif kind == "gift":
        response = gift(client, alice, bob, ticket, "reorg")
    else:
        response = buy(client, bob, listing["id"], key="reorg")
    assert response.status_code == 201 and response.json()["status"] == "pending", response.text
    _mined_then_reorged(later, depth)
    if kind == "issuance":
        with Session(later.engine) as session:
            [issuance] = session.exec(select(Issuance).where(Issuance.idempotency_key == "reorg")).all()
        assert issuance.status == "done"
        assert collection.total_minted() == 4  # alice's 1 and bob's 3: minted once
        assert collection.balance_of(bob["address"]) == 3
    else:
        assert collection.owner_of(ticket["token_id"]) == bob["address"]
        assert collection.nonce_of(alice["address"]) == 1  # the holder's authorisation used once
        assert client.get(f"/tickets/{ticket['id']}", headers=bob["headers"]).status_code == 200


def test_past_the_fee_ceiling_everything_waits_and_health_says_why(
    app, client, later, org, gw_event, collection, new_fan
):
    alice = new_fan()
    later.settings.max_fee_gwei = 1e-9  # 1 wei per gas: below any base fee
    later._fees = None
    response = client.post(
        f"/events/{gw_event['id']}/tickets/issue",
        json={"fan_id": alice["id"], "tier_id": 0, "quantity": 1, "payment_reference": "c"},
        headers=org["headers"] | {"Idempotency-Key": "ceiling"},
    )
    assert response.json()["status"] == "pending"
    sending.run_once(later)
    health = sending.health(later.engine, head=later.chain().w3.eth.block_number)
    assert (health.pending, health.waiting_for_fees, health.ok) == (1, 1, False)
    assert "above the ceiling" in health.reason and health.oldest_pending_blocks is None  # nothing signed
    from gateway.services import health as readiness  # /readyz says why, naming the part

    readiness._cache.clear()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "sending" in ready.json()["failing"], ready.text
    assert "above the ceiling" in ready.json()["checks"]["sending"]["detail"]
    with Session(later.engine) as session:
        [row] = session.exec(select(ChainTransaction)).all()
    assert row.nonce is None and row.attempts == "[]"
    later.settings.max_fee_gwei = None
    later._fees = None
    sending.settle(later)
    assert sending.health(later.engine).ok and collection.total_minted() == 1
