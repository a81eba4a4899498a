"""Chain-level failures come out as their own exception classes."""

import pytest

import ticketkit as tk


def test_reused_nonce_is_a_nonce_error(chain, fans):
    alice, bob = fans[0], fans[1]
    receipt = chain.send_raw({"to": bob.address, "value": 1, "gas": 21_000}, alice)
    used = chain.w3.eth.get_transaction(receipt["transactionHash"])["nonce"]
    with pytest.raises(tk.NonceError) as info:
        chain.send_raw({"to": bob.address, "value": 1, "gas": 21_000, "nonce": used}, alice)
    assert info.value.code == "nonce_error"


def test_unknown_rpc_is_rpc_unavailable():
    with pytest.raises(tk.RPCUnavailable):
        tk.connect("http://127.0.0.1:9", policy=tk.RpcPolicy(timeout=1, retries=1))


def test_wrong_chain_id(chain):
    with pytest.raises(tk.ChainIdMismatch) as info:
        tk.connect(chain.url, chain_id=1)
    assert (info.value.expected, info.value.actual) == (1, chain.chain_id)
