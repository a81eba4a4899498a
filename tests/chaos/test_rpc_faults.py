"""The RPC layer under random faults on two nodes at once (429s, 502s, lost answers, hangs, a node going down
and back): every transfer lands exactly once, no nonce is skipped. Small in CI; `make chaos` runs it long."""

from __future__ import annotations

import time

import pytest

import ticketkit as tk
from tests.utils.fault_proxy import FaultProxy

# Faster than the defaults (0.5 s attempts, short backoffs) but as many attempts as a flaky provider needs:
# with one node down, each attempt at the other fails ~1 time in 4 here.
POLICY = tk.RpcPolicy(timeout=0.5, retries=10, backoff=0.05, max_backoff=0.5, cooldown=0.5)
FAULTS = {"rate_limited": 0.1, "retry_after": 0, "bad_gateway": 0.1, "lost_answers": 0.05, "hang": 0.01}


@pytest.mark.chaos
def test_transfers_land_exactly_once_under_random_rpc_faults(chain, chaos_settings):
    count = 500 if chaos_settings.long else 12
    sender, receiver = chain.account(3), chain.account(4)
    with (
        FaultProxy(chain.url, seed=chaos_settings.seed) as one,
        FaultProxy(chain.url, seed=chaos_settings.seed + 1) as two,
    ):
        node = tk.connect([one.url, two.url], chain_id=chain.chain_id, policy=POLICY)
        one.set(**FAULTS)
        two.set(**FAULTS)
        nonce = chain.w3.eth.get_transaction_count(sender.address)
        before = chain.balance(receiver.address)
        started = time.monotonic()
        for i in range(count):
            if i == count // 3:
                one.down()
            if i == 2 * count // 3:
                one.up()
            receipt = node.send_raw({"to": receiver.address, "value": 1, "gas": 21_000}, sender)
            assert receipt["status"] == 1
        elapsed = time.monotonic() - started
        one.clear()
        two.clear()
        totals = node.w3.provider.totals()
    assert chain.balance(receiver.address) == before + count  # each transfer once
    assert chain.w3.eth.get_transaction_count(sender.address) == nonce + count  # no nonce skipped
    faults = sum(p.counts[k] for p in (one, two) for k in ("429", "502", "lost", "hang"))
    print(
        f"\nchaos rpc: {count} transfers in {elapsed:.1f} s; {faults} faults injected; provider "
        f"{dict(totals)}"
    )
    assert faults > 0 and totals["retries"] > 0
