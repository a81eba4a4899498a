"""Fault tests for the check-in queue to the chain: a real gateway process (uvicorn, the queue on) against a
dedicated anvil that keeps its chain in a state file across restarts. The RPC node is stopped and restarted
while a batch waits for its receipt; the gateway is killed with SIGKILL while check-ins are queued and a batch
is pending. Afterwards every admitted ticket is checked in on chain exactly once and its holder has the
badge."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3.exceptions import TransactionNotFound

import ticketkit as tk
from gateway import process as gateway_process
from gateway.core.config import Settings
from gateway.models import CheckinBatch
from gateway.services import sending
from tests.utils.checkin import (
    assert_checked_in_once_with_badges,
    batches,
    chain_status,
    checkin_transactions,
    sent_hash,
)
from tests.utils.gate import make_gate_key, scan_in
from ticketkit.chain import ANVIL_KEYS, RPCUnavailable, anvil_binary, connect, free_port

ROOT = Path(__file__).resolve().parents[2]
ETH = 10**18
BATCH = 5


class Anvil:
    """anvil on a fixed port with `--state`: SIGTERM dumps the chain to the file, the next start loads it
    (the transaction pool is not kept)."""

    def __init__(self, state: Path):
        self.port, self.state = free_port(), state
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> tk.Chain:
        args = [
            anvil_binary(),
            "--port",
            str(self.port),
            "--chain-id",
            "31337",
            "--silent",
            "--gas-limit",
            "30000000",
            "--code-size-limit",
            "24576",
            "--state",
            str(self.state),
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                chain = connect(self.url, chain_id=31337, timeout=2)
                break
            except RPCUnavailable:
                assert self.process.poll() is None and time.monotonic() < deadline, "anvil did not start"
                time.sleep(0.05)
        chain.accounts = tuple(Account.from_key(k) for k in ANVIL_KEYS)
        return chain

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # anvil writes its state file on the way out
            self.process.wait(timeout=20)
        self.process = None


class GatewayProcess:
    """`uvicorn --factory gateway.main:create_app`, the check-in queue on, configured by GATEWAY_* only."""

    def __init__(self, settings: Settings, log: Path):
        self.settings, self.log, self.port = settings, log, free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = gateway_process.spawn(
                self.settings,
                port=self.port,
                log=out,
                log_level="info",
                sender_enabled=True,
                checkin_queue_enabled=True,
                checkin_batch_size=BATCH,
                checkin_poll_seconds=0.1,
            )
        try:
            gateway_process.wait_serving(f"http://127.0.0.1:{self.port}", self.process, timeout=30)
        except RuntimeError as error:
            raise AssertionError(self.tail()) from error

    def kill(self) -> None:
        assert self.process is not None and self.process.poll() is None, self.tail()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            gateway_process.stop(self.process)
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""


# ---- fixtures: the conftest's app, client and org run against the dedicated anvil (settings overridden)
@pytest.fixture()
def anvil(tmp_path) -> Iterator[Anvil]:
    node = Anvil(tmp_path / "anvil-state.json")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture()
def operator():
    return Account.from_key(ANVIL_KEYS[9])


@pytest.fixture()
def settings(database_url, anvil, operator):
    anvil.start()
    return Settings(
        database_url=database_url,
        rpc_url=anvil.url,
        chain_id=31337,
        operator_key=operator.key.to_0x_hex(),
        key_encryption_secret="test-secret-not-for-production",
        confirmations=0,
        send_wait_seconds=30,
        sender_enabled=False,
    )  # this process only issues; the spawned one sends


@pytest.fixture()
def gateway(settings, tmp_path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(settings, tmp_path / "gateway.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture()
def event(app, client, org, anvil, operator):
    """A collection with a badge on the dedicated chain, the operator holding its roles, registered with the
    gateway; a gate key; `tickets(fans, each)` issues tickets to new fans."""
    chain = connect(anvil.url, chain_id=31337)
    organiser = Account.from_key(ANVIL_KEYS[0])
    platform = tk.deploy_platform(chain, organiser)
    now = chain.timestamp()
    collection = platform.create_collection(
        tk.EventConfig(
            "Faults",
            "FLT",
            start_time=now + 30 * 86400,
            transfer_lock_time=now + 29 * 86400,
            resale_cap_bps=11_000,
            royalty_bps=500,
        ),
        [
            tk.TierConfig(
                "General", face_value=ETH // 100, supply=100, sale_start=now - 1, sale_end=now + 20 * 86400
            )
        ],
        salt="faults",
        badge=platform.create_badge("Badges", "BDG", salt="faults-badge", sender=organiser),
        sender=organiser,
    )
    for role in ("MINTER_ROLE", "GATEWAY_ROLE", "GATE_ROLE"):
        collection.grant_role(role, operator.address, sender=organiser)
    response = client.post(
        "/events", json={"collection_address": collection.address, "name": "Faults"}, headers=org["headers"]
    )
    assert response.status_code == 201, response.text
    event_id = response.json()["id"]

    def tickets(fans: int, each: int) -> tuple[list[dict], dict[int, str]]:
        issued, holders = [], {}
        for n in range(fans):
            fan = client.post("/fans", json={}).json()
            fan["headers"] = {"Authorization": f"Bearer {fan['session_token']}"}
            response = client.post(
                f"/events/{event_id}/tickets/issue",
                json={"fan_id": fan["id"], "tier_id": 0, "quantity": each, "payment_reference": f"pay-{n}"},
                headers=org["headers"] | {"Idempotency-Key": f"issue-{n}"},
            )
            assert response.status_code == 201, response.text
            for ticket in response.json()["tickets"]:
                issued.append(ticket | {"fan": fan})
                holders[ticket["token_id"]] = fan["address"]
        return issued, holders

    return {
        "id": event_id,
        "address": collection.address,
        "gate": make_gate_key(client, org, event_id),
        "tickets": tickets,
    }


# ---- helpers
def wait_for(condition: Callable[[], object], timeout: float, what: str, log: Callable[[], str]) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{log()}"
        time.sleep(0.05)


def broadcast_batch(engine, chain: tk.Chain) -> CheckinBatch | None:
    """The first batch, once its signed transaction is on record and waiting in the node's pool."""
    recorded = [b for b in batches(engine) if sent_hash(engine, b)]
    if not recorded:
        return None
    try:
        chain.w3.eth.get_transaction(sent_hash(engine, recorded[0]))
    except TransactionNotFound:
        return None
    return recorded[0]


def assert_the_chain_has_it_all(
    engine, chain: tk.Chain, address: str, holders: dict[int, str], first_hash: str, operator
) -> None:
    assert chain_status(engine) == {"done": len(holders)}
    recorded = batches(engine)
    assert [b.status for b in recorded] == ["done"] * len(recorded)  # nothing dropped, nothing resent anew
    assert len(recorded) == -(-len(holders) // BATCH)
    collection = tk.Collection(chain, address)
    assert checkin_transactions(collection) == {b.tx_hash for b in recorded}
    assert first_hash in checkin_transactions(collection)  # the recorded transaction itself is on chain
    assert_checked_in_once_with_badges(collection, holders)
    assert sending.unfinished_count(engine) == 0  # no nonce was skipped: nothing of the operator is stuck
    assert chain.w3.eth.get_transaction_count(
        operator.address, "pending"
    ) == chain.w3.eth.get_transaction_count(operator.address, "latest")


# ---- (a) the RPC node goes away while a batch waits for its receipt
def test_the_node_stopped_and_restarted_during_a_batch(app, client, event, anvil, gateway, operator):
    engine = app.state.runtime.engine
    tickets, holders = event["tickets"](fans=3, each=4)
    chain = connect(anvil.url, chain_id=31337)
    scan_in(client, event["gate"], tickets)
    assert chain_status(engine) == {"queued": 12}
    chain.rpc("evm_setAutomine", [False])  # a sent batch now waits in the pool for a block
    gateway.start()
    first = wait_for(lambda: broadcast_batch(engine, chain), 20, "the first batch to be sent", gateway.tail)
    first_hash = sent_hash(engine, first)
    assert (
        chain_status(engine)["sent"] >= BATCH and sum(chain_status(engine).values()) == 12
    )  # batches in flight

    anvil.stop()  # SIGTERM: the chain is dumped to the state file, the pending transaction is lost
    time.sleep(1.0)  # the gateway's drains fail meanwhile (connection refused) and back off
    assert gateway.alive(), gateway.tail()
    assert (
        chain_status(engine)["sent"] >= BATCH and sum(chain_status(engine).values()) == 12
    )  # batches in flight
    assert {b.status for b in batches(engine)} == {"pending"}
    assert first_hash in {
        sent_hash(engine, b) for b in batches(engine)
    }  # nothing re-signed while the node was away

    chain = anvil.start()  # from the state file, mining on
    # The pool did not survive the restart: the gateway's worker sends the recorded bytes again (it may
    # already have, by the time this line runs), and the batch lands once (asserted below).
    wait_for(lambda: chain_status(engine) == {"done": 12}, 25, "every admission to be done", gateway.tail)
    assert_the_chain_has_it_all(engine, chain, event["address"], holders, first_hash, operator)


# ---- (b) the gateway killed while check-ins are queued and a batch is pending
@pytest.mark.parametrize("while_dead", ["mined", "lost"])
def test_the_gateway_killed_while_check_ins_are_queued(
    app, client, event, anvil, gateway, operator, while_dead
):
    engine = app.state.runtime.engine
    tickets, holders = event["tickets"](fans=3, each=4)
    chain = connect(anvil.url, chain_id=31337)
    scan_in(client, event["gate"], tickets[:8])
    chain.rpc("evm_setAutomine", [False])
    gateway.start()
    first = wait_for(lambda: broadcast_batch(engine, chain), 20, "the first batch to be sent", gateway.tail)
    first_hash = sent_hash(engine, first)
    gateway.kill()  # SIGKILL while the batch waits for its receipt
    assert chain_status(engine)["sent"] >= BATCH and sum(chain_status(engine).values()) == 8
    assert {b.status for b in batches(engine)} == {"pending"}
    assert first_hash in {sent_hash(engine, b) for b in batches(engine)}

    scan_in(client, event["gate"], tickets[8:])  # the gates go on admitting meanwhile
    if while_dead == "mined":
        chain.rpc("evm_mine")  # its transaction is mined while nobody waits for it
        assert chain.w3.eth.get_transaction_receipt(first_hash)["status"] == 1
    else:
        chain.rpc("anvil_dropAllTransactions")  # or the node forgets it
    chain.rpc("evm_setAutomine", [True])
    gateway.start()
    wait_for(lambda: chain_status(engine) == {"done": 12}, 25, "every admission to be done", gateway.tail)
    assert_the_chain_has_it_all(engine, chain, event["address"], holders, first_hash, operator)
