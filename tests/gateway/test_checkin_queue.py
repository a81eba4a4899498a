"""The durable check-in queue to the chain (services/checkin_queue.py): admissions reach checkIn in batches,
each ticket checked in on chain exactly once with its holder's badge, whatever the node or a second drainer
do."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Iterable

import pytest
from sqlalchemy import create_engine, update
from sqlmodel import Session, select
from web3.exceptions import TransactionNotFound

import ticketkit as tk
from gateway.core.config import Settings
from gateway.db import make_engine
from gateway.models import Admission, CheckinBatch, utcnow
from gateway.runtime import Runtime
from gateway.services import checkin_queue
from gateway.services import gate as gate_service
from gateway.services.checkin_queue import DrainReport, drain_once
from tests.utils.checkin import (
    assert_checked_in_once_with_badges,
    batches,
    chain_status,
    checkin_transactions,
    sent_hash,
)
from tests.utils.gate import make_gate_key, scan_in
from ticketkit.chain import free_port
from ticketkit.tx.pipeline import NONCE_TAKEN_GRACE_SECONDS

ETH = 10**18


# ---- helpers
def admit(engine, event_id: str, gate: dict, tickets: Iterable[dict]) -> None:
    """The write a scan ends in (services/gate.admit), without the device-key round trip."""
    with Session(engine) as session:
        for ticket in tickets:
            admitted, _ = gate_service.admit(
                session,
                event_id=uuid.UUID(event_id),
                ticket_id=uuid.UUID(ticket["id"]),
                token_id=ticket["token_id"],
                gate_key_id=uuid.UUID(gate["id"]),
                device=None,
                source="online",
                scanned_at=utcnow(),
            )
            assert admitted


# ---- fixtures
@pytest.fixture()
def big_collection(make_event, chain, organiser, operator):
    """A collection with room for a few hundred tickets; the operator may mint, move and check in."""
    now = chain.timestamp()
    event = make_event(
        tiers=[
            tk.TierConfig(
                "General", face_value=ETH // 100, supply=1_000, sale_start=now - 1, sale_end=now + 20 * 86400
            )
        ]
    )
    for role in ("MINTER_ROLE", "GATEWAY_ROLE", "GATE_ROLE"):
        event.grant_role(role, operator.address, sender=organiser)
    return event


@pytest.fixture()
def door(client, org, big_collection, new_fan, issue):
    """The event registered, a gate key, and `tickets(fans, each)`: issued tickets with their holders."""
    response = client.post(
        "/events", json={"collection_address": big_collection.address, "name": "Gig"}, headers=org["headers"]
    )
    assert response.status_code == 201, response.text
    event = response.json()
    gate = make_gate_key(client, org, event["id"])

    def tickets(fans: int, each: int) -> tuple[list[dict], dict[int, str]]:
        """`each` tickets for each of `fans` new fans: the tickets (with their "fan"), token -> holder."""
        issued, holders = [], {}
        for _ in range(fans):
            fan = new_fan()
            response = client.post(
                f"/events/{event['id']}/tickets/issue",
                json={"fan_id": fan["id"], "tier_id": 0, "quantity": each, "payment_reference": "pay"},
                headers=org["headers"] | {"Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 201, response.text
            for ticket in response.json()["tickets"]:
                issued.append(ticket | {"fan": fan})
                holders[ticket["token_id"]] = fan["address"]
        return issued, holders

    class Door:
        pass

    door = Door()
    door.event_id, door.gate, door.tickets, door.collection = event["id"], gate, tickets, big_collection
    return door


def automine(chain, on: bool) -> None:
    chain.rpc("evm_setAutomine", [on])


@pytest.fixture()
def manual_mining(chain):
    """`manual_mining()`: from then on transactions wait in the node's pool until the test mines them."""
    yield lambda: automine(chain, False)
    chain.rpc("anvil_dropAllTransactions")
    automine(chain, True)


# ---- batching
def test_admissions_reach_the_chain_in_batches_with_the_badges(app, client, door):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=50, each=5)
    scan_in(client, door.gate, tickets)
    assert chain_status(engine) == {"queued": 250}

    report = drain_once(runtime, max_batch=100)
    assert (report.sent, report.done, report.checked_in, report.skipped, report.pending) == (3, 3, 250, 0, 0)
    assert chain_status(engine) == {"done": 250}
    done = batches(engine)
    assert [len(json.loads(b.token_ids)) for b in done] == [100, 100, 50]  # oldest first, ceil(250/100) txs
    assert all(b.status == "done" and b.tx_hash and b.error is None for b in done)
    assert {b.tx_hash for b in done} == checkin_transactions(door.collection)
    with Session(engine) as session:  # each admission points at the batch that carried its token
        for admission in session.exec(select(Admission)):
            carried = next(b for b in done if b.id == admission.batch_id)
            assert admission.token_id in json.loads(carried.token_ids)
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_rerun_sends_nothing_and_later_admissions_go_alone(app, door, chain, operator):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=3, each=4)
    admit(engine, door.event_id, door.gate, tickets[:7])
    assert drain_once(runtime).checked_in == 7
    nonce = chain.w3.eth.get_transaction_count(operator.address)
    assert drain_once(runtime) == DrainReport()  # nothing queued, nothing pending: nothing sent
    assert chain.w3.eth.get_transaction_count(operator.address) == nonce
    admit(engine, door.event_id, door.gate, tickets[7:])
    report = drain_once(runtime)
    assert (report.sent, report.checked_in) == (1, 5)
    assert json.loads(batches(engine)[-1].token_ids) == sorted(t["token_id"] for t in tickets[7:])
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_ticket_already_used_on_chain_is_skipped_by_the_contract_not_checked_in_twice(app, door, organiser):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=2)
    door.collection.grant_role("GATE_ROLE", organiser.address, sender=organiser)
    door.collection.check_in([tickets[0]["token_id"]], sender=organiser)  # a door outside the gateway
    admit(engine, door.event_id, door.gate, tickets)
    report = drain_once(runtime)
    assert (report.checked_in, report.skipped) == (4, 1)
    assert batches(engine)[0].error == "skipped: 1 already used"
    assert_checked_in_once_with_badges(door.collection, holders)


def test_without_gate_role_nothing_is_sent_until_the_organiser_grants_it(
    app, door, chain, organiser, operator
):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=1)
    gate_role = door.collection.role("GATE_ROLE")
    chain.send(door.collection.contract.functions.revokeRole(gate_role, operator.address), organiser)
    admit(engine, door.event_id, door.gate, tickets)
    report = drain_once(runtime)
    assert report.refused == {uuid.UUID(door.event_id): "AccessControlUnauthorizedAccount"}
    assert (report.sent, chain_status(engine), batches(engine)) == (0, {"queued": 2}, [])
    door.collection.grant_role("GATE_ROLE", operator.address, sender=organiser)
    assert drain_once(runtime).checked_in == 2
    assert_checked_in_once_with_badges(door.collection, holders)


# ---- confirmation depth and reorganisations
def test_a_batch_is_done_only_once_its_receipt_is_deep_enough(app, door, chain):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=2)
    admit(engine, door.event_id, door.gate, tickets)
    runtime.settings.confirmations = 3
    report = drain_once(runtime, receipt_timeout=0.3)
    assert (report.sent, report.done, report.pending) == (1, 0, 1)
    assert chain_status(engine) == {"sent": 4}
    assert checkin_transactions(door.collection) == {
        sent_hash(engine, batches(engine)[0])
    }  # mined, not trusted
    chain.rpc("anvil_mine", [2])
    assert drain_once(runtime, receipt_timeout=0.3).pending == 1
    chain.rpc("anvil_mine", [1])
    report = drain_once(runtime)
    assert (report.sent, report.done, report.checked_in) == (0, 1, 4)
    assert chain_status(engine) == {"done": 4}
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_batch_dropped_by_a_reorganisation_is_sent_again_not_marked_done(app, door, chain):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=3, each=1)
    admit(engine, door.event_id, door.gate, tickets)
    runtime.settings.confirmations = 2
    before = chain.rpc("evm_snapshot", [])
    assert drain_once(runtime, receipt_timeout=0.3).pending == 1
    [batch] = batches(engine)
    first = sent_hash(engine, batch)
    chain.rpc("evm_revert", [before])  # the block holding the batch is gone, and its transaction with it
    assert checkin_transactions(door.collection) == set()
    report = drain_once(runtime, receipt_timeout=0.3)  # no receipt: the recorded bytes again
    assert (report.done, report.pending) == (0, 1)
    chain.rpc("anvil_mine", [2])
    report = drain_once(runtime)
    assert (report.sent, report.done, report.checked_in) == (0, 1, 3)
    assert [b.tx_hash for b in batches(engine)] == [first]
    assert checkin_transactions(door.collection) == {first}
    assert_checked_in_once_with_badges(door.collection, holders)


def test_admissions_of_an_event_cancelled_on_chain_leave_the_queue_for_good(
    app, door, chain, organiser, operator
):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, _ = door.tickets(fans=2, each=2)
    admit(engine, door.event_id, door.gate, tickets)
    door.collection.cancel_event(sender=organiser)
    report = drain_once(runtime)
    assert (report.cancelled, report.sent, report.refused) == (4, 0, {})
    assert (chain_status(engine), batches(engine)) == ({"cancelled": 4}, [])
    nonce = chain.w3.eth.get_transaction_count(operator.address)
    assert drain_once(runtime) == DrainReport()  # nothing left to try
    assert chain.w3.eth.get_transaction_count(operator.address) == nonce
    assert checkin_transactions(door.collection) == set()


def test_confirmations_default_to_the_chains_and_can_be_set(settings):
    assert (
        Runtime(settings=Settings(key_encryption_secret="x", chain_id=137), engine=None).confirmations() == 64
    )
    assert (
        Runtime(settings=Settings(key_encryption_secret="x", chain_id=1), engine=None).confirmations() == 12
    )
    assert Runtime(settings=Settings(key_encryption_secret="x"), engine=None).confirmations() == 0  # anvil
    assert (
        Runtime(settings=Settings(key_encryption_secret="x", confirmations=5), engine=None).confirmations()
        == 5
    )
    with pytest.raises(ValueError):
        Settings(key_encryption_secret="x", confirmations=-1)


# ---- two drainers
def _runtime(settings: Settings, **overrides) -> Runtime:
    settings = settings.model_copy(update=overrides)
    return Runtime(settings=settings, engine=make_engine(settings.database_url))


def test_two_drainers_at_once_take_disjoint_admissions(app, door, settings):
    engine = app.state.runtime.engine
    tickets, holders = door.tickets(fans=12, each=5)
    admit(engine, door.event_id, door.gate, tickets)
    drainers = [_runtime(settings), _runtime(settings)]  # two gateway processes: own engines, own connections
    start, reports, errors = threading.Barrier(2), [], []

    def drain(runtime: Runtime) -> None:
        start.wait()
        try:
            reports.append(drain_once(runtime, max_batch=6))
        except Exception as error:  # noqa: BLE001  # reported below
            errors.append(error)

    threads = [threading.Thread(target=drain, args=(r,)) for r in drainers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for runtime in drainers:
        runtime.engine.dispose()
    assert errors == []
    assert all(r.sent > 0 for r in reports), reports  # both took part
    assert sum(r.checked_in for r in reports) == 60 and sum(r.skipped for r in reports) == 0
    done = batches(engine)
    carried = [token for b in done for token in json.loads(b.token_ids)]
    assert sorted(carried) == sorted(holders) and len(done) == math.ceil(60 / 6)  # disjoint, none twice
    assert chain_status(engine) == {"done": 60}
    assert_checked_in_once_with_badges(door.collection, holders)


# Row locks are PostgreSQL's; SQLite serialises whole writes (the test above covers it).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_drainer_skips_admissions_another_has_locked(app, door, database_url):
    engine = app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=4)
    admit(engine, door.event_id, door.gate, tickets)
    # a drainer that would wait for the locks fails after 5 s instead of hanging the test
    runtime = Runtime(
        settings=app.state.runtime.settings,
        engine=create_engine(database_url, connect_args={"options": "-c lock_timeout=5000"}),
    )
    with Session(engine) as other:  # another drainer, mid-claim: holds the three oldest
        locked = set(
            other.exec(
                select(Admission.token_id)
                .order_by(Admission.admitted_at, Admission.id)
                .limit(3)
                .with_for_update(skip_locked=True)
            )
        )
        report = drain_once(runtime, max_batch=100)
        assert report.checked_in == 5
        assert set(json.loads(batches(engine)[0].token_ids)) == set(holders) - locked
    assert chain_status(engine) == {"done": 5, "queued": 3}
    assert drain_once(runtime).checked_in == 3
    runtime.engine.dispose()
    assert_checked_in_once_with_badges(door.collection, holders)


# ---- the node unreachable, slow, or losing a transaction
def test_rpc_unreachable_changes_nothing_then_it_drains(app, door, settings):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=3, each=2)
    admit(engine, door.event_id, door.gate, tickets)
    cut_off = _runtime(settings, rpc_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        with pytest.raises(tk.RPCUnavailable):
            drain_once(cut_off)
    finally:
        cut_off.engine.dispose()
    assert (chain_status(engine), batches(engine)) == ({"queued": 6}, [])
    assert drain_once(runtime).checked_in == 6
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_batch_not_mined_stays_pending_and_is_finished_from_its_receipt(app, door, chain, manual_mining):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=3)
    admit(engine, door.event_id, door.gate, tickets)
    manual_mining()
    report = drain_once(runtime, receipt_timeout=0.3)
    assert (report.sent, report.pending, chain_status(engine)) == (1, 1, {"sent": 6})
    [batch] = batches(engine)
    assert batch.status == "pending" and chain.w3.eth.get_transaction(sent_hash(engine, batch)) is not None
    chain.rpc("evm_mine")
    report = drain_once(runtime)
    assert (report.sent, report.done, report.checked_in) == (0, 1, 6)  # from the receipt, nothing resent
    assert (batches(engine)[0].status, checkin_transactions(door.collection)) == (
        "done",
        {sent_hash(engine, batch)},
    )
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_batch_the_node_lost_is_sent_again_with_the_same_transaction(app, door, chain, manual_mining):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=3)
    admit(engine, door.event_id, door.gate, tickets)
    manual_mining()
    drain_once(runtime, receipt_timeout=0.3)
    [batch] = batches(engine)
    first = sent_hash(engine, batch)
    chain.rpc("anvil_dropAllTransactions")  # e.g. the node restarted without its pool
    with pytest.raises(TransactionNotFound):
        chain.w3.eth.get_transaction(first)
    automine(chain, True)
    report = drain_once(runtime)
    assert (report.sent, report.done, report.checked_in) == (0, 1, 6)
    assert checkin_transactions(door.collection) == {first}  # the same signed bytes
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_batch_whose_nonce_another_transaction_took_goes_back_to_the_queue(
    app, door, chain, operator, manual_mining
):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=2, each=3)
    admit(engine, door.event_id, door.gate, tickets)
    manual_mining()
    drain_once(runtime, receipt_timeout=0.3)
    [lost] = batches(engine)
    lost_tx = chain.w3.eth.get_transaction(sent_hash(engine, lost))
    chain.rpc("anvil_dropAllTransactions")
    automine(chain, True)
    base = chain.w3.eth.get_block("latest")["baseFeePerGas"]
    other = operator.sign_transaction(
        {
            "to": operator.address,
            "value": 0,
            "gas": 21_000,
            "nonce": lost_tx["nonce"],
            "chainId": chain.chain_id,
            "maxFeePerGas": 2 * base + 1,
            "maxPriorityFeePerGas": 1,
        }
    )
    chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_raw_transaction(other.raw_transaction))
    # the pipeline sees the nonce used by none of its versions: once that has lasted NONCE_TAKEN_GRACE_SECONDS
    # (a node may count a nonce a moment before it serves the receipt), failed and given back
    deadline = time.monotonic() + NONCE_TAKEN_GRACE_SECONDS + 5
    while (report := drain_once(runtime)).requeued == 0 and time.monotonic() < deadline:
        assert (report.sent, report.checked_in) == (0, 0)
        time.sleep(0.2)
    assert (report.requeued, report.sent, report.checked_in) == (6, 0, 0)
    report = drain_once(runtime)
    assert (report.requeued, report.sent, report.checked_in) == (0, 1, 6)
    old, new = batches(engine)
    assert old.status == "failed"
    assert old.error == f"nonce_taken: nonce {lost_tx['nonce']} was used by another transaction"
    assert new.status == "done" and json.loads(new.token_ids) == json.loads(old.token_ids)
    assert checkin_transactions(door.collection) == {new.tx_hash}
    assert_checked_in_once_with_badges(door.collection, holders)


def test_a_claim_left_unsent_by_a_dead_drainer_goes_back_once_stale(app, door):
    runtime, engine = app.state.runtime, app.state.runtime.engine
    tickets, holders = door.tickets(fans=1, each=3)
    admit(engine, door.event_id, door.gate, tickets)
    with Session(engine) as session:  # a drainer claimed the admissions, then died before signing
        batch = CheckinBatch(event_id=uuid.UUID(door.event_id), token_ids=json.dumps(sorted(holders)))
        session.add(batch)
        session.flush()
        session.execute(update(Admission).values(chain_status="sent", batch_id=batch.id))
        session.commit()
    report = drain_once(runtime)  # young: maybe a live drainer still preparing it
    assert (report.pending, report.sent, chain_status(engine)) == (1, 0, {"sent": 3})
    report = drain_once(runtime, stale_after=0)
    assert (report.requeued, report.sent, report.checked_in) == (3, 1, 3)
    [batch] = batches(engine)  # the unsent claim left no record; the new batch carried them
    assert batch.status == "done"
    assert_checked_in_once_with_badges(door.collection, holders)


# ---- the runner
def test_the_app_runs_the_queue_when_enabled(door, settings, client):
    from fastapi.testclient import TestClient

    from gateway.main import create_app

    tickets, holders = door.tickets(fans=2, each=2)
    enabled = create_app(
        settings.model_copy(update={"checkin_queue_enabled": True, "checkin_poll_seconds": 0.05})
    )
    engine = enabled.state.runtime.engine
    admit(engine, door.event_id, door.gate, tickets)
    with TestClient(enabled):
        for _ in range(200):
            if chain_status(engine) == {"done": 4}:
                break
            threading.Event().wait(0.05)
    engine.dispose()
    assert_checked_in_once_with_badges(door.collection, holders)


def test_the_queue_is_off_by_default(settings):
    assert Settings(key_encryption_secret="x").checkin_queue_enabled is False
    runtime = _runtime(settings)
    with checkin_queue.running(runtime) as queue:
        assert queue is None
    runtime.engine.dispose()
