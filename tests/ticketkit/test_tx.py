"""The transaction pipeline (ticketkit.tx) under anvil's real faults: fee spikes, drops, reorganisations,
stuck transactions, nonce gaps and the operator's fee ceiling. Blocks come from a Miner (automine off), one
every
0.2 s at a base fee the test sets."""

from __future__ import annotations

import threading
import time

import pytest
from eth_account import Account

import ticketkit as tk
from tests.utils.fault_proxy import FaultProxy
from tests.utils.miner import Miner
from ticketkit import tx
from ticketkit.tx import FeePolicy, Fees, profile
from ticketkit.tx.fees import GWEI

ETH = 10**18


@pytest.fixture(scope="module")
def live():
    """A chain of its own (its blocks are not automined) with the platform and one collection."""
    with tk.local_chain() as chain:
        organiser = chain.account(0)
        platform = tk.deploy_platform(chain, organiser)
        now = chain.timestamp()
        tiers = [
            tk.TierConfig(
                "General",
                face_value=ETH // 100,
                supply=10_000,
                sale_start=now - 1,
                sale_end=now + 20 * 86400,
                max_per_wallet=0,
            )
        ]
        config = tk.EventConfig(
            name="Chaos",
            symbol="CHS",
            start_time=now + 30 * 86400,
            transfer_lock_time=now + 29 * 86400,
            resale_cap_bps=11_000,
            royalty_bps=500,
        )
        collection = platform.create_collection(config, tiers, salt="chaos", badge=None, sender=organiser)
        chain.poll_seconds = 0.05
        yield chain, collection


@pytest.fixture()
def miner(live):
    chain, _ = live
    miner = Miner(chain.url, interval=0.2, base_fee=GWEI)
    pipeline = chain.pipeline(chain.account(0))
    saved = (pipeline.confirmations, pipeline.stuck_blocks, FeePolicy(**vars(chain.fee_policy)))
    with miner:
        yield miner
    chain.wait_all(timeout=30)  # nothing of a test is left in flight for the next
    miner.rpc("evm_setAutomine", [True])
    pipeline.confirmations, pipeline.stuck_blocks = saved[0], saved[1]
    vars(chain.fee_policy).update(vars(saved[2]))


def _recipients(chain, n):
    """`n` new holders (a plan never minted before: the batch's job ids would skip a repeated one)."""
    return [tk.Recipient(address=Account.create().address, tier_id=0) for _ in range(n)]


@pytest.mark.parametrize("factor", [10, 50])
def test_base_fee_spike_mid_batch_is_replaced_and_lands_once(live, miner, factor):
    chain, collection = live
    organiser = chain.account(0)
    before = collection.total_minted()
    stats = dict(chain.pipeline(organiser).stats)
    sent = []

    def progress(done, total):
        sent.append(done)
        if len(sent) == 3:  # two chunks are out: the next blocks cost `factor` times more
            miner.spike(factor)

    report = tk.mint_recipients(
        collection, _recipients(chain, 60), organiser, chunk_size=10, progress=progress
    )
    assert report.minted_now == 60
    assert collection.total_minted() - before == 60
    after = chain.pipeline(organiser).stats
    assert after["replacements"] > stats["replacements"]  # the chunks priced before the spike were replaced
    assert all(r.finished for r in chain.pipeline(organiser).records.values())


def test_a_mint_of_20_sent_before_a_x100_jump_is_mined(live, miner):
    """The issue's measured case: `ticketkit mint` of 20, sent just before the base fee jumps ×100."""
    chain, collection = live
    organiser = chain.account(0)
    before = collection.total_minted()
    start = {}

    def progress(done, total):
        if done == total and not start:
            start["block"] = miner.head()
            miner.spike(100)

    report = tk.mint_recipients(
        collection, _recipients(chain, 20), organiser, chunk_size=20, progress=progress
    )
    assert report.minted_now == 20 and collection.total_minted() - before == 20
    [tx_hash] = report.transactions
    _, rec = chain._record_of(tx_hash)
    assert rec.replacements >= 1 and rec.mined_hash != tx_hash  # the replacement is the version that counts
    assert rec.mined_block - start["block"] <= 5


def test_every_pending_transaction_dropped_is_resent(live, miner):
    chain, collection = live
    organiser = chain.account(0)
    before = collection.total_minted()
    start_nonce = chain.w3.eth.get_transaction_count(organiser.address, "latest")
    with miner.paused():
        hashes = [
            collection.mint_batch(0, [chain.account(1).address] * 3, sender=organiser, wait=False)
            for _ in range(4)
        ]
        miner.drop_all()
        assert chain.w3.eth.get_transaction_count(organiser.address, "pending") == start_nonce
    for tx_hash in hashes:
        chain.wait(tx_hash, timeout=30)
    assert collection.total_minted() - before == 12
    assert (
        chain.w3.eth.get_transaction_count(organiser.address, "latest") == start_nonce + 4
    )  # no gap, no extra
    assert sum(chain._record_of(h)[1].resends + chain._record_of(h)[1].replacements for h in hashes) >= 4


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_a_reorg_removing_a_mined_transaction_lands_it_again_once(live, miner, depth):
    chain, collection = live
    organiser = chain.account(0)
    pipeline = chain.pipeline(organiser)
    pipeline.confirmations = 6
    before = collection.total_minted()
    with miner.paused():
        tx_hash = collection.mint_batch(0, [chain.account(2).address] * 2, sender=organiser, wait=False)
        _, rec = chain._record_of(tx_hash)
        miner.mine(1)
        pipeline.tick()
        assert rec.status == "mined"
        miner.mine(depth - 1)  # the receipt is `depth - 1` blocks deep: shallower than 6
        pipeline.tick()
        assert rec.status == "mined"
        miner.reorg(depth)  # its block is gone, and the transaction with it
        assert chain.w3.eth.get_transaction_receipt
        assert collection.total_minted() == before
        pipeline.tick()
        assert rec.status == "sent" and rec.reorgs == 1
    chain.wait(tx_hash, timeout=30)
    assert rec.status == "final"
    assert collection.total_minted() - before == 2  # exactly once


def test_a_stuck_transaction_is_replaced_and_the_replacement_counts(live, miner):
    chain, collection = live
    organiser = chain.account(0)
    pipeline = chain.pipeline(organiser)
    pipeline.stuck_blocks = 3
    before = collection.total_minted()
    with miner.paused():
        tx_hash = collection.mint_batch(0, [chain.account(3).address], sender=organiser, wait=False)
        _, rec = chain._record_of(tx_hash)
        limit = chain.w3.eth.get_block("latest")["gasLimit"]
        miner.rpc("evm_setBlockGasLimit", [hex(30_000)])  # the pool keeps it, no block can take it
        miner.mine(3)
        miner.rpc("evm_setBlockGasLimit", [hex(limit)])
        assert chain.w3.eth.get_transaction(tx_hash)["blockNumber"] is None
        pipeline.tick()
        assert rec.replacements == 1
        first, second = rec.attempts
        assert second.max_fee >= first.max_fee * 9 // 8 and second.tip >= first.tip * 9 // 8  # ≥ 12.5 %
    chain.wait(tx_hash, timeout=30)
    assert rec.mined_hash == second.tx_hash
    assert collection.total_minted() - before == 1


def test_a_nonce_gap_is_filled(live, miner):
    chain, _ = live
    organiser = chain.account(0)
    pipeline = chain.pipeline(organiser)
    pipeline.stuck_blocks = 2
    start = chain.w3.eth.get_transaction_count(organiser.address, "latest")
    chain._nonces.take(organiser.address)  # handed out and never used: a gap
    tx_hash = chain.send_raw(
        {"to": chain.account(4).address, "value": 1, "gas": 21_000}, organiser, wait=False
    )
    _, rec = chain._record_of(tx_hash)
    assert rec.nonce == start + 1
    chain.wait(tx_hash, timeout=30)
    assert pipeline.stats["gap_fills"] >= 1
    assert chain.w3.eth.get_transaction_count(organiser.address, "latest") == start + 2


def test_past_the_fee_ceiling_a_transaction_waits_then_lands_under_it(live, miner):
    chain, collection = live
    organiser = chain.account(0)
    chain.fee_policy.ceiling = 5 * GWEI
    miner.set_base_fee(40 * GWEI)  # above the ceiling for ~14 blocks
    miner.mine(1)
    before = collection.total_minted()
    outcome = {}

    def send():
        outcome["receipt"] = chain.send(
            collection.contract.functions.mintBatch(0, [chain.account(5).address]), organiser
        )

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 10
    waiting = []
    while not waiting and time.monotonic() < deadline:
        waiting = [r for r in chain.pipeline(organiser).unfinished() if r.waiting]
        time.sleep(0.05)
    assert waiting and "ceiling" in waiting[0].waiting and not waiting[0].attempts  # nothing signed
    miner.set_base_fee(GWEI)  # fees fall
    thread.join(timeout=30)
    receipt = outcome["receipt"]
    assert collection.total_minted() - before == 1
    assert chain.w3.eth.get_transaction(receipt["transactionHash"])["maxFeePerGas"] <= 5 * GWEI


def test_a_fee_ceiling_that_never_clears_raises_and_takes_no_nonce(live, miner):
    chain, collection = live
    organiser = chain.account(0)
    chain.fee_policy.ceiling = 5 * GWEI
    chain.fee_wait_seconds = 0.5
    miner.set_base_fee(1000 * GWEI)
    miner.mine(1)
    start = chain.w3.eth.get_transaction_count(organiser.address, "pending")
    try:
        with pytest.raises(tk.errors.FeeCeilingExceeded) as info:
            collection.mint_batch(0, [chain.account(5).address], sender=organiser)
    finally:
        chain.fee_wait_seconds = 300
    assert info.value.code == "fee_ceiling_exceeded" and info.value.ceiling == 5 * GWEI
    assert info.value.needed > 5 * GWEI
    assert not chain.pipeline(organiser).unfinished()  # given up before anything was signed
    miner.set_base_fee(GWEI)
    miner.mine(1)
    receipt = chain.send(collection.contract.functions.mintBatch(0, [chain.account(5).address]), organiser)
    assert chain.w3.eth.get_transaction(receipt["transactionHash"])["nonce"] == start  # no gap


def test_replacement_fees_and_chain_defaults(chain):
    policy = FeePolicy.for_chain(31337)
    fees = policy.suggest(lambda m, p: chain.rpc(m, p))
    bumped = policy.bump(fees, lambda m, p: chain.rpc(m, p))
    assert bumped.max_fee * 8 >= fees.max_fee * 9 and bumped.tip * 8 >= fees.tip * 9
    assert policy.bump(Fees(max_fee=1, tip=1), lambda m, p: chain.rpc(m, p)).tip >= 2  # tiny fees still rise
    for chain_id in (137, 80002):
        assert profile(chain_id).tip_floor >= 25 * GWEI
    for chain_id in (1, 137, 80002, 8453, 42161):
        assert profile(chain_id).confirmations > 0
    assert profile(31337).confirmations == 0


@pytest.mark.parametrize("style", ["bor", "legacy"])
def test_a_node_tip_floor_of_30_gwei_is_learned(style):
    """Polygon's nodes refuse tips under ~30 gwei; on a chain whose profile does not know it, the pipeline
    learns the floor from the refusal (the minimum it names, or by doubling) and the transaction lands."""
    with tk.local_chain() as upstream, FaultProxy(upstream.url, seed=13) as proxy:
        proxy.set(tip_floor=30 * GWEI, tip_floor_style=style)
        chain = tk.connect(proxy.url)
        sender = upstream.account(0)
        receipt = chain.send_raw({"to": upstream.account(1).address, "value": 1, "gas": 21_000}, sender)
        assert receipt["status"] == 1
        assert chain.w3.eth.get_transaction(receipt["transactionHash"])["maxPriorityFeePerGas"] >= 30 * GWEI
        assert proxy.counts["underpriced"] >= 1
        assert chain.w3.eth.get_transaction_count(sender.address, "latest") == 1  # one nonce, no gap


def test_the_journal_resumes_what_an_interrupted_run_left_in_flight(tmp_path):
    """A run records each transaction in the journal before broadcasting it; the node then loses it (e.g. a
    restart without its pool) and the run is killed. The next run's first send finishes it at the same
    nonce."""
    journal = tx.Journal(tmp_path / "journal.jsonl")
    with tk.local_chain() as chain:
        sender, to = chain.account(0), chain.account(1).address
        chain.store = journal
        chain.rpc("evm_setAutomine", [False])
        chain.send_raw({"to": to, "value": 7, "gas": 21_000}, sender, wait=False)
        chain.rpc("anvil_dropAllTransactions")
        chain.rpc("evm_setAutomine", [True])
        [left] = journal.unfinished(sender.address)
        assert left.status == "sent" and left.nonce == 0

        rerun = tk.connect(chain.url)  # a new process
        rerun.store = tx.Journal(tmp_path / "journal.jsonl")
        rerun.wait_for_pending(sender.address)  # the batch commands start so
        receipt = rerun.send_raw({"to": to, "value": 8, "gas": 21_000}, sender)
        assert rerun.w3.eth.get_transaction(receipt["transactionHash"])["nonce"] == 1
        assert rerun.w3.eth.get_transaction(left.attempts[0].tx_hash)["value"] == 7  # the same bytes, nonce 0
        assert journal.unfinished() == []


def test_a_transaction_at_the_ceiling_dropped_again_and_again_is_sent_again_not_stalled(live, miner):
    """Priced at the ceiling, a bump can never be signed; dropped from the pool, the same bytes go out again
    (found by the chaos scenario: such transactions waited for good)."""
    chain, collection = live
    organiser = chain.account(0)
    chain.fee_policy.ceiling = 5 * GWEI
    miner.set_base_fee(3 * GWEI)  # 2 × base + tip > 5 gwei: the max fee is capped at the ceiling
    miner.mine(1)
    before = collection.total_minted()
    pipeline = chain.pipeline(organiser)
    with miner.paused():
        tx_hash = collection.mint_batch(0, [chain.account(6).address], sender=organiser, wait=False)
        _, rec = chain._record_of(tx_hash)
        assert rec.attempts[0].max_fee == 5 * GWEI
        for _ in range(4):
            miner.drop_all()
            miner.mine(1)
            pipeline.tick()
        assert rec.status == "sent" and rec.resends >= 3 and not rec.waiting
        assert all(a.max_fee <= 5 * GWEI for a in rec.attempts)
    chain.wait(tx_hash, timeout=30)
    assert collection.total_minted() - before == 1


def test_a_tick_asks_the_node_a_constant_number_of_questions_however_many_transactions_wait():
    """Hundreds of waiting transactions behind a rate-limited node: a round must not ask about each one (the
    full-size chaos scenario crawled when it did). Waiting in the pool: 3 queries; mined and short of their
    confirmations: 1 per block; only what changes costs more (a receipt each when mined, a check and a resend
    each when dropped)."""
    with tk.local_chain() as chain:
        sender = chain.account(3)
        calls: list[str] = []

        def request(method, params):
            calls.append(method)
            return chain.request(method, params)

        pipeline = tx.Pipeline(request, chain.chain_id, sender, confirmations=3, stuck_blocks=50)
        chain.rpc("evm_setAutomine", [False])
        records = [
            pipeline.submit(to=sender.address, data="0x", value=n, gas=21_000, label="self")
            for n in range(40)
        ]

        def tick() -> list[str]:
            calls.clear()
            pipeline.tick()
            return list(calls)

        assert sorted(tick()) == ["eth_blockNumber", "eth_getTransactionCount", "eth_getTransactionCount"]
        chain.rpc("anvil_dropAllTransactions")  # every one must be found missing and sent again
        dropped = tick()  # the pool holds nothing of the sender's: no question each, only the resends
        assert dropped.count("eth_sendRawTransaction") == 40 and "eth_getTransactionByHash" not in dropped
        assert len(tick()) == 3
        chain.rpc("anvil_dropTransaction", [records[10].tx_hash])  # one dropped: a gap below the rest
        gap = tick()  # asked about by hash from the gap up; what the node says it lacks is sent again
        assert gap.count("eth_getTransactionByHash") == 30 and 1 <= gap.count("eth_sendRawTransaction") <= 30
        assert len(tick()) == 3
        chain.rpc("evm_mine")
        assert tick().count("eth_getTransactionReceipt") == 40  # each mined once: its receipt read once
        assert all(r.status == "mined" for r in records)
        assert sorted(tick()) == ["eth_blockNumber", "eth_getBlockByNumber"]  # one block holds all 40
        chain.rpc("anvil_mine", [3])
        tick()
        assert all(r.status == "final" for r in records)
