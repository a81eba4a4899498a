"""Operator transactions that are on record before they exist anywhere else.

`prepare` estimates (a contract refusal raises here, before anything is sent), takes a nonce and signs;
the caller commits the hash and the signed bytes, and only then calls `broadcast`. After a crash the
record holds everything needed to find the transaction or send it again (see services/recovery.py).

A process that dies between taking a nonce and recording its transaction leaves a gap: every later operator
transaction waits behind it in the node's pool. `fill_nonce_gap` (run by the check-in queue's worker) closes
it once the gap has lasted `grace` seconds (a live request between taking a nonce and broadcasting is a gap
too, for milliseconds): a recorded transaction holding that nonce is sent again, else a zero-value transfer to
itself takes the nonce.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select, update
from web3.exceptions import TransactionNotFound

import ticketkit as tk
from ticketkit.chain import translate_error

from .. import db
from ..models import CheckinBatch, Issuance, OperatorNonce, ResaleSettlement, Transfer

log = logging.getLogger("gateway.sending")


@dataclass(frozen=True)
class Prepared:
    tx_hash: str
    raw_tx: str
    tx: dict[str, Any]


def allocate_nonce(engine: Engine, chain_id: int, address: str, pending: int) -> int:
    """Take the operator's next nonce in a short transaction of its own, so every process agrees.

    The nonce is max(the stored next nonce, `pending` - the node's pending transaction count); the
    row then holds nonce + 1. PostgreSQL locks the row (SELECT ... FOR UPDATE); on SQLite the first
    write (the INSERT) takes the database's write lock, which serialises the rest.
    """
    table = OperatorNonce.__table__  # type: ignore[attr-defined]
    key = (table.c.chain_id == chain_id) & (table.c.address == address)
    with engine.begin() as conn:
        conn.execute(db.insert(engine.dialect.name, table).values(chain_id=chain_id, address=address, next_nonce=pending)
                     .on_conflict_do_nothing(index_elements=["chain_id", "address"]))
        stored = conn.execute(select(table.c.next_nonce).where(key).with_for_update()).scalar_one()
        nonce = max(stored, pending)
        conn.execute(update(table).where(key).values(next_nonce=nonce + 1))
    return nonce


def release_nonce(engine: Engine, chain_id: int, address: str, nonce: int) -> None:
    """Give back a nonce that was never sent, if no later one was taken since (else it stays a gap).

    Best effort: it runs on failure paths, where the original error matters more.
    """
    table = OperatorNonce.__table__  # type: ignore[attr-defined]
    try:
        with engine.begin() as conn:
            conn.execute(update(table).where((table.c.chain_id == chain_id) & (table.c.address == address)
                                             & (table.c.next_nonce == nonce + 1)).values(next_nonce=nonce))
    except Exception:  # noqa: BLE001, S110 - best effort
        pass


def prepare(chain: tk.Chain, call: Any, sender: LocalAccount, engine: Engine) -> Prepared:
    """Estimate, take a nonce from the database (see `allocate_nonce`) and sign."""
    tx: dict[str, Any] = {"from": sender.address, "value": 0, "chainId": chain.chain_id}
    try:
        gas = int(call.estimate_gas(tx) * 1.2) + 10_000
        pending = chain.w3.eth.get_transaction_count(sender.address, "pending")
    except Exception as error:  # noqa: BLE001 - translated
        raise translate_error(error) from None
    nonce = allocate_nonce(engine, chain.chain_id, sender.address, pending)
    try:
        tx = call.build_transaction({**tx, "gas": gas, "nonce": nonce})
        if "gasPrice" not in tx and "maxFeePerGas" not in tx:
            base = chain.w3.eth.get_block("latest").get("baseFeePerGas", 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
        signed = sender.sign_transaction(tx)
    except Exception as error:  # noqa: BLE001 - translated
        release_nonce(engine, chain.chain_id, sender.address, nonce)
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


def sender_and_nonce(raw_tx: str) -> tuple[str, int]:
    """The sender and nonce of a signed transaction (typed: [chainId, nonce, ...]; legacy: [nonce, ...])."""
    data = bytes.fromhex(raw_tx.removeprefix("0x"))
    typed = data[0] < 0x7F
    fields = rlp.decode(data[1:] if typed else data)
    return Account.recover_transaction(raw_tx), int.from_bytes(fields[1] if typed else fields[0], "big")


_RECORDS = (Issuance, Transfer, ResaleSettlement, CheckinBatch)
_gap_seen: dict[tuple[int, str, int], float] = {}  # (chain, operator, nonce) -> when first seen missing


def _recorded_with_nonce(engine: Engine, address: str, nonce: int) -> str | None:
    """The signed transaction of a pending record that holds `nonce` of `address`, if any."""
    with engine.connect() as conn:
        for model in _RECORDS:
            table = model.__table__  # type: ignore[attr-defined]
            for (raw,) in conn.execute(select(table.c.raw_tx).where(table.c.status == "pending",
                                                                   table.c.raw_tx.is_not(None))):
                if sender_and_nonce(raw) == (address, nonce):
                    return raw
    return None


def fill_nonce_gap(chain: tk.Chain, engine: Engine, sender: LocalAccount, *, grace: float = 60.0) -> str | None:
    """Close a gap below the nonces already given out: 'rebroadcast', 'filled', or None (no gap, or too young)."""
    table = OperatorNonce.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = conn.execute(select(table.c.next_nonce).where(table.c.chain_id == chain.chain_id,
                                                               table.c.address == sender.address)).scalar()
    pending = chain.w3.eth.get_transaction_count(sender.address, "pending")
    if stored is None or stored <= pending:
        return None
    key = (chain.chain_id, sender.address, pending)
    now = time.monotonic()
    if now - _gap_seen.setdefault(key, now) < grace:
        return None  # maybe a live request between taking the nonce and broadcasting its transaction
    raw = _recorded_with_nonce(engine, sender.address, pending)
    if raw is not None:
        rebroadcast(chain, raw)
        del _gap_seen[key]
        return "rebroadcast"
    base = chain.w3.eth.get_block("latest").get("baseFeePerGas", 0)
    signed = sender.sign_transaction({"to": sender.address, "value": 0, "gas": 21_000, "nonce": pending,
                                      "chainId": chain.chain_id, "maxPriorityFeePerGas": 1,
                                      "maxFeePerGas": 2 * base + 1})
    broadcast(chain, signed.raw_transaction.to_0x_hex(), sender.address)
    del _gap_seen[key]
    log.warning("operator nonce %d was taken and never sent: filled with a zero-value transfer (%s)", pending,
                signed.hash.to_0x_hex())
    return "filled"
