"""The fault proxy itself: each fault does what it says, against a real anvil, and is counted."""

from __future__ import annotations

import time

import pytest
import requests
from eth_account import Account

from tests.utils.fault_proxy import UNDERPRICED_LEGACY_MESSAGE, FaultProxy, priority_fee


def rpc(url, method, params=(), *, timeout=5.0):
    response = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=timeout
    )
    return response


def block_number(url):
    return int(rpc(url, "eth_blockNumber").json()["result"], 16)


def mine(chain, blocks):
    chain.rpc("anvil_mine", [hex(blocks)])


def signed_transfer(chain, *, tip, nonce=None):
    sender = chain.account(1)
    tx = {
        "to": chain.account(2).address,
        "value": 1,
        "gas": 21_000,
        "chainId": chain.chain_id,
        "nonce": chain.w3.eth.get_transaction_count(sender.address) if nonce is None else nonce,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": tip + 10**10,
    }
    return sender.sign_transaction(tx).raw_transaction


def test_forwards_calls_and_batches(chain, proxy):
    assert block_number(proxy.url) == block_number(chain.url)
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": m, "params": []}
        for i, m in enumerate(["eth_chainId", "eth_blockNumber"])
    ]
    answers = requests.post(proxy.url, json=batch, timeout=5).json()
    assert [a["id"] for a in answers] == [0, 1]
    assert int(answers[0]["result"], 16) == chain.chain_id
    assert proxy.counts["requests"] == 2 and proxy.counts["calls"] == 3 and proxy.counts["forwarded"] == 2
    assert proxy.counts["method:eth_blockNumber"] == 2


def test_rate_limit_answers_429_with_retry_after(proxy):
    proxy.set(rate_limited=1.0, retry_after=3)
    response = rpc(proxy.url, "eth_blockNumber")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert proxy.counts["429"] == 1 and proxy.counts["forwarded"] == 0


def test_bursts_then_recovers(proxy):
    proxy.burst(502, 2)
    assert [rpc(proxy.url, "eth_chainId").status_code for _ in range(3)] == [502, 502, 200]
    assert proxy.counts["502"] == 2


def test_lost_answers_are_executed_but_not_answered(chain, proxy):
    head = block_number(chain.url)
    proxy.burst("lost", 1)
    assert rpc(proxy.url, "evm_mine").status_code == 502
    assert block_number(chain.url) == head + 1
    assert proxy.counts["lost"] == 1 and proxy.counts["forwarded"] == 1


def test_methods_limit_the_faults(proxy):
    proxy.set(bad_gateway=1.0, methods={"eth_getBalance"})
    assert rpc(proxy.url, "eth_chainId").status_code == 200
    assert rpc(proxy.url, "eth_getBalance", ["0x" + "00" * 20, "latest"]).status_code == 502


def test_faults_are_deterministic_under_a_seed(make_proxy):
    def statuses(seed):
        p = make_proxy(seed=seed, rate_limited=0.3, bad_gateway=0.2)
        return [rpc(p.url, "eth_chainId").status_code for _ in range(30)]

    first = statuses(5)
    assert first == statuses(5)
    assert {429, 502, 200} <= set(first)
    assert first != statuses(6)


def test_hang_holds_the_call_until_the_client_gives_up(proxy):
    proxy.set(hang=1.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        rpc(proxy.url, "eth_blockNumber", timeout=0.3)
    assert time.monotonic() - started < 2
    assert proxy.counts["hang"] == 1
    proxy.clear()
    assert rpc(proxy.url, "eth_blockNumber").status_code == 200


def test_down_refuses_connections_then_up_serves_again(proxy):
    session = requests.Session()  # a kept-alive connection opened before the node goes down
    assert session.post(proxy.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).ok
    proxy.down()
    with pytest.raises(requests.ConnectionError):
        rpc(proxy.url, "eth_chainId")
    with pytest.raises(requests.ConnectionError):
        session.post(proxy.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2)
    proxy.up()
    assert rpc(proxy.url, "eth_chainId").status_code == 200


def test_stale_node_lags_block_number_blocks_and_receipts(chain, proxy):
    mine(chain, 5)
    head = block_number(chain.url)
    tx_hash = chain.w3.eth.send_raw_transaction(signed_transfer(chain, tip=1))
    chain.w3.eth.wait_for_transaction_receipt(tx_hash)
    proxy.set(stale_blocks=3)
    assert block_number(proxy.url) == head + 1 - 3
    latest = rpc(proxy.url, "eth_getBlockByNumber", ["latest", False]).json()["result"]
    assert int(latest["number"], 16) == head + 1 - 3
    assert rpc(proxy.url, "eth_getBlockByNumber", [hex(head + 1), False]).json()["result"] is None
    assert rpc(proxy.url, "eth_getTransactionReceipt", [tx_hash.to_0x_hex()]).json()["result"] is None
    assert rpc(chain.url, "eth_getTransactionReceipt", [tx_hash.to_0x_hex()]).json()["result"] is not None
    assert proxy.counts["stale"] == 4


def test_tip_floor_refuses_underpriced_transactions_as_polygon_does(chain, proxy):
    floor = 30 * 10**9
    proxy.set(tip_floor=floor)
    cheap = signed_transfer(chain, tip=10**9)
    assert priority_fee(cheap) == 10**9
    error = rpc(proxy.url, "eth_sendRawTransaction", [cheap.to_0x_hex()]).json()["error"]
    assert error == {
        "code": -32000,
        "message": f"transaction gas price below minimum: gas tip cap {10**9}, minimum needed {floor}",
    }
    proxy.set(tip_floor_style="legacy")
    assert (
        rpc(proxy.url, "eth_sendRawTransaction", [cheap.to_0x_hex()]).json()["error"]["message"]
        == UNDERPRICED_LEGACY_MESSAGE
    )
    enough = signed_transfer(chain, tip=floor)
    assert "result" in rpc(proxy.url, "eth_sendRawTransaction", [enough.to_0x_hex()]).json()
    assert proxy.counts["underpriced"] == 2


def test_priority_fee_of_legacy_transactions_is_the_gas_price():
    account = Account.create()
    raw = account.sign_transaction(
        {"to": account.address, "value": 0, "gas": 21_000, "gasPrice": 7, "nonce": 0, "chainId": 1}
    ).raw_transaction
    assert priority_fee(raw) == 7


def test_unknown_fault_names_raise(proxy):
    with pytest.raises(AttributeError):
        proxy.set(rate_limit=0.3)
    assert isinstance(proxy, FaultProxy)
