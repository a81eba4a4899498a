"""ticketkit/rpc.py against real anvil behind fault proxies (tests/utils/fault_proxy.py): retries,
Retry-After, failover and return, stale nodes, bounded timeouts, safe re-sends, and what is never repeated."""

from __future__ import annotations

import time

import pytest

import ticketkit as tk
from tests.utils.fault_proxy import FaultProxy
from ticketkit.rpc import ResilientProvider, parse_urls, redact

ETH = 10**18
# Quick enough for tests: attempts of 0.5 s, small backoffs, a node back after 0.3 s.
FAST = tk.RpcPolicy(timeout=0.5, retries=6, backoff=0.02, max_backoff=0.1, cooldown=0.3, seed=1)


@pytest.fixture()
def make_proxy(chain):
    made: list[FaultProxy] = []

    def make(*, seed: int = 13, **faults) -> FaultProxy:
        proxy = FaultProxy(chain.url, seed=seed)
        proxy.start()
        made.append(proxy)
        return proxy.set(**faults)

    yield make
    for proxy in made:
        proxy.close()


def through(chain, *urls, policy=FAST) -> tk.Chain:
    """A second connection to the test's anvil, through `urls`, with its funded accounts."""
    connected = tk.connect(list(urls), chain_id=chain.chain_id, policy=policy)
    connected.accounts = chain.accounts
    return connected


def provider(chain) -> ResilientProvider:
    return chain.w3.provider


def test_429_on_30_percent_of_calls_deploy_mint_and_reads_succeed(
    chain, platform, make_proxy, organiser, fans
):
    proxy = make_proxy()
    node = through(chain, proxy.url)
    proxy.set(rate_limited=0.3, retry_after=0)
    platform = tk.Platform(node, platform.address)  # the collection is deployed through the faulty node
    now = node.timestamp()
    event = platform.create_collection(
        tk.EventConfig(
            name="Gig",
            symbol="GIG",
            start_time=now + 30 * 86400,
            transfer_lock_time=now + 29 * 86400,
            resale_cap_bps=11_000,
            royalty_bps=500,
        ),
        [
            tk.TierConfig(
                "General", face_value=ETH // 10, supply=100, sale_start=now - 1, sale_end=now + 86400
            )
        ],
        salt="rpc-429",
        sender=organiser,
    )
    event.mint_batch(0, [f.address for f in fans[:5]], sender=organiser)
    [token] = event.buy(0, 1, sender=fans[5])
    assert event.total_minted() == 6 and event.owner_of(token) == fans[5].address
    assert tk.Collection(chain, event.address).total_minted() == 6  # the chain itself agrees
    assert proxy.counts["429"] >= 10
    assert provider(node).totals()["retries"] >= proxy.counts["429"]
    assert provider(node).totals()["rate_limited"] == proxy.counts["429"]


def test_502_bursts_and_lost_answers_are_retried(chain, make_proxy, fans):
    proxy = make_proxy()
    node = through(chain, proxy.url)
    alice, bob = fans[0], fans[1]
    before = node.balance(bob.address)
    for _ in range(3):
        proxy.burst(502, 3)
        node.send_raw({"to": bob.address, "value": 1, "gas": 21_000}, alice)
    assert node.balance(bob.address) == before + 3
    assert proxy.counts["502"] == 9
    # the node executed the send but its answer was lost: the re-send of the same bytes is the same
    # transaction
    proxy.set(methods={"eth_sendRawTransaction"}).burst("lost", 2)
    receipt = node.send_raw({"to": bob.address, "value": 1, "gas": 21_000}, alice)
    assert receipt["status"] == 1 and node.balance(bob.address) == before + 4
    assert proxy.counts["lost"] == 2 and provider(node).totals()["already_known"] == 1


def test_a_lost_answer_of_a_call_that_is_not_safe_to_repeat_is_not_repeated(chain, make_proxy):
    proxy = make_proxy()
    node = through(chain, proxy.url)
    head = node.w3.eth.block_number
    proxy.burst("lost", 1)
    with pytest.raises(tk.RPCUnavailable, match="not safe to repeat"):
        node.rpc("evm_mine")
    assert chain.w3.eth.block_number == head + 1  # mined once, not once per retry


def test_retry_after_is_honoured_or_another_node_serves(chain, make_proxy):
    limited = make_proxy(retry_after=1)
    node = through(chain, limited.url)
    limited.burst(429, 1)
    started = time.monotonic()
    assert node.w3.eth.block_number >= 0
    assert time.monotonic() - started >= 1.0
    spare = make_proxy()
    both = through(chain, limited.url, spare.url)
    limited.burst(429, 1)
    started = time.monotonic()
    assert both.w3.eth.block_number >= 0
    assert time.monotonic() - started < 0.5 and spare.counts["method:eth_blockNumber"] == 1


def test_primary_down_the_second_serves_then_the_primary_again(chain, make_proxy, fans):
    primary, second = make_proxy(), make_proxy()
    node = through(chain, primary.url, second.url)
    primary.down()
    alice, bob = fans[0], fans[1]
    receipt = node.send_raw({"to": bob.address, "value": 1, "gas": 21_000}, alice)
    assert receipt["status"] == 1
    assert second.counts["method:eth_sendRawTransaction"] == 1
    stats = provider(node).stats()
    assert stats[redact(primary.url)]["refused"] >= 1 and stats[redact(second.url)]["failovers"] >= 1
    primary.up()
    time.sleep(FAST.cooldown + 0.05)
    served = primary.counts["forwarded"]
    probes = provider(node).stats()[redact(primary.url)].get("probes", 0)  # the send may have probed it, down
    node.w3.eth.get_balance(bob.address)
    assert primary.counts["forwarded"] == served + 2  # the probe (eth_blockNumber), then the call itself
    assert provider(node).stats()[redact(primary.url)]["probes"] == probes + 1


def test_every_node_down_is_rpc_unavailable_with_urls_redacted(chain, make_proxy):
    one, two = make_proxy(), make_proxy()
    node = through(chain, one.url + "/v2/SECRETKEY", two.url + "/?key=SECRET2")
    one.down()
    two.down()
    started = time.monotonic()
    with pytest.raises(tk.RPCUnavailable) as info:
        node.w3.eth.get_balance(chain.account(0).address)
    assert time.monotonic() - started < 2
    assert "connection refused" in str(info.value) and "SECRET" not in str(info.value)
    assert info.value.code == "rpc_unavailable"
    assert node.w3.is_connected() is False


def test_a_stale_node_is_not_trusted(chain, make_proxy):
    lagging, current = make_proxy(), make_proxy()
    node = through(chain, lagging.url, current.url)
    chain.rpc("anvil_mine", ["0x5"])
    head = node.w3.eth.block_number  # from the primary, still current
    lagging.set(stale_blocks=3)
    assert node.w3.eth.block_number == head
    assert node.w3.eth.get_block("latest")["number"] == head
    assert lagging.counts["stale"] == 1 and provider(node).stats()[redact(lagging.url)]["stale"] == 1
    assert current.counts["method:eth_blockNumber"] == 1
    # while it lags it stays out, even after its cooldown (its probe shows it behind)
    time.sleep(FAST.cooldown + 0.05)
    assert node.w3.eth.block_number == head
    assert provider(node).stats()[redact(lagging.url)]["probes"] == 1
    # caught up: it serves again
    lagging.clear()
    time.sleep(FAST.cooldown + 0.05)
    served = lagging.counts["forwarded"]
    assert node.w3.eth.block_number == head
    assert lagging.counts["forwarded"] == served + 2


def test_every_node_behind_the_mark_means_the_chain_went_back(chain, make_proxy):
    one, two = make_proxy(), make_proxy()
    node = through(chain, one.url, two.url)
    chain.rpc("anvil_mine", ["0x4"])
    head = node.w3.eth.block_number
    one.set(stale_blocks=2)
    two.set(stale_blocks=2)
    assert node.w3.eth.block_number == head - 2
    assert provider(node).highest_block == head - 2
    # and a single node's lower head is simply the chain (a snapshot revert in tests, a reorg)
    single = through(chain, one.url)
    one.clear()
    assert single.w3.eth.block_number == head
    one.set(stale_blocks=1)
    assert single.w3.eth.block_number == head - 1


def test_a_hanging_node_costs_at_most_timeout_times_attempts(chain, make_proxy):
    policy = tk.RpcPolicy(timeout=0.3, retries=2, backoff=0.02, max_backoff=0.05, cooldown=5)
    hanging = make_proxy(hang=1.0)
    node = tk.connect(make_proxy().url, policy=policy)  # connected while healthy
    node.w3.provider.nodes[0].url = hanging.url
    started = time.monotonic()
    with pytest.raises(tk.RPCUnavailable, match="no answer within 0.3 s"):
        _ = node.w3.eth.block_number
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3 * 0.3 + 2 * 0.05 + 1.0  # three timeouts and two backoffs (+ a loaded machine)
    assert hanging.counts["hang"] == 3
    # with a second node, a hanging primary costs one timeout
    both = through(chain, make_proxy().url, make_proxy().url, policy=policy)
    both.w3.provider.nodes[0].url = hanging.url
    started = time.monotonic()
    assert both.w3.eth.block_number >= 0
    assert time.monotonic() - started < 0.3 + 0.7


def test_a_deadline_bounds_the_whole_call(chain, make_proxy):
    hanging = make_proxy()
    node = tk.connect(hanging.url, policy=tk.RpcPolicy(timeout=2, retries=5, backoff=0.01, deadline=0.6))
    hanging.set(hang=1.0)
    started = time.monotonic()
    with pytest.raises(tk.RPCUnavailable):
        _ = node.w3.eth.block_number
    assert 0.55 <= time.monotonic() - started < 1.5
    assert hanging.counts["hang"] == 1


def test_batches_are_retried(chain, make_proxy):
    proxy = make_proxy()
    node = through(chain, proxy.url)
    proxy.burst(502, 2)
    with node.w3.batch_requests() as batch:
        batch.add(node.w3.eth.get_block(0))
        batch.add(node.w3.eth.get_balance(chain.account(0).address))
        block, balance = batch.execute()
    assert block["number"] == 0 and balance > 0
    assert proxy.counts["502"] == 2


def test_node_urls_are_parsed_and_checked():
    assert parse_urls(" http://a:1 ,https://b/x ") == ["http://a:1", "https://b/x"]
    assert parse_urls(["http://a"]) == ["http://a"]
    with pytest.raises(tk.InvalidInput, match="no JSON-RPC node URL"):
        parse_urls(" , ")
    with pytest.raises(tk.InvalidInput, match="not an http"):
        tk.connect("ws://127.0.0.1:8546")
    assert redact("https://user:pw@polygon.example:8443/v2/KEY?x=1") == "https://polygon.example:8443/…"


def test_a_node_of_another_chain_is_refused(chain, make_proxy):
    with pytest.raises(tk.ChainIdMismatch):
        tk.connect([make_proxy().url], chain_id=chain.chain_id + 1, policy=FAST)


def test_a_node_down_at_connection_is_checked_for_its_chain_when_it_comes_back(chain, make_proxy):
    with tk.local_chain(chain_id=4242) as other:
        wrong = FaultProxy(other.url)
        wrong.start()
        try:
            wrong.down()
            primary = make_proxy()
            node = through(chain, wrong.url, primary.url)  # the wrong node is down: not asked yet
            wrong.up()
            time.sleep(FAST.cooldown + 0.05)
            assert node.w3.eth.chain_id == chain.chain_id
            assert provider(node).stats()[redact(wrong.url)]["wrong_chain"] == 1
            assert wrong.counts["method:eth_blockNumber"] == 0  # never used
        finally:
            wrong.close()


def test_a_revert_through_the_provider_starts_the_stale_mark_again(chain, make_proxy):
    one, two = make_proxy(), make_proxy()
    node = through(chain, one.url, two.url)
    snapshot = node.snapshot()
    node.rpc("anvil_mine", ["0x3"])
    high = node.w3.eth.block_number
    node.revert_to(snapshot)
    assert node.w3.eth.block_number == high - 3
    assert provider(node).totals()["stale"] == 0 and provider(node).highest_block == high - 3
