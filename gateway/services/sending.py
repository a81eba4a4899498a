"""Operator transactions that are on record before they exist anywhere else.

`prepare` estimates (a contract refusal raises here, before anything is sent), takes a nonce and signs;
the caller commits the hash and the signed bytes, and only then calls `broadcast`. After a crash the
record holds everything needed to find the transaction or send it again (see services/recovery.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.exceptions import TransactionNotFound

import ticketkit as tk
from ticketkit.chain import translate_error


@dataclass(frozen=True)
class Prepared:
    tx_hash: str
    raw_tx: str
    tx: dict[str, Any]


def prepare(chain: tk.Chain, call: Any, sender: LocalAccount) -> Prepared:
    tx: dict[str, Any] = {"from": sender.address, "value": 0, "chainId": chain.chain_id}
    try:
        gas = int(call.estimate_gas(tx) * 1.2) + 10_000
        tx = call.build_transaction({**tx, "gas": gas, "nonce": chain._next_nonce(sender.address)})
        if "gasPrice" not in tx and "maxFeePerGas" not in tx:
            base = chain.w3.eth.get_block("latest").get("baseFeePerGas", 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
        signed = sender.sign_transaction(tx)
    except Exception as error:  # noqa: BLE001 - translated
        chain.reset_nonce(sender.address)
        raise translate_error(error) from None
    return Prepared(tx_hash=signed.hash.to_0x_hex(), raw_tx=signed.raw_transaction.to_0x_hex(), tx=tx)


def broadcast(chain: tk.Chain, raw_tx: str, sender_address: str) -> None:
    try:
        chain.w3.eth.send_raw_transaction(raw_tx)
    except Exception as error:  # noqa: BLE001
        chain.reset_nonce(sender_address)
        raise translate_error(error) from None


def rebroadcast(chain: tk.Chain, raw_tx: str) -> bool:
    """Send a recorded transaction again; False if the node will not take it (e.g. its nonce is used)."""
    try:
        chain.w3.eth.send_raw_transaction(raw_tx)
    except Exception as error:  # noqa: BLE001
        return "already known" in str(error).lower()
    return True


def receipt_of(chain: tk.Chain, tx_hash: str) -> Any | None:
    try:
        return chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None
