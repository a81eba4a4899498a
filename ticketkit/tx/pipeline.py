"""The one transaction pipeline: record → sign → broadcast → track → replace → confirm, for one sender.

Every write of ticketkit (the library's calls, the CLI's batches, the gateway's worker) goes through here:

    queued ──sign (nonce, fees)──▶ sent ──receipt──▶ mined ──`confirmations` blocks later──▶ final | reverted
                                    ▲  │                │
                                    │  └ dropped from the pool: the same bytes again, or a replacement
                                    │  └ not mined within `stuck_blocks`: a replacement at the same nonce
                                    └──── the receipt disappeared (a reorg): sent again, lands once

- A record is saved (`Store.save`) before anything it describes is broadcast: each new version (a replacement
  with fees bumped ≥ 12.5 %, see fees.py) is saved with its signed bytes first. Whichever version is mined
  counts; all are checked for a receipt.
- Nothing is signed while the fees needed pass the operator's ceiling: the record waits (`waiting` says why).
- A record whose nonce was used by a transaction that is none of its versions can never be mined: `failed`
  with NonceTaken (another sender on the account).
- A gap below a record's nonce (a nonce handed out and never used by anything on record) holds every later
  transaction back: after `stuck_blocks` blocks it is filled with a zero-value transfer to the sender.

`tick()` moves every unfinished record one step; `wait(record)` ticks until that record is final. Transport
errors (node down, timeouts) propagate as RPCUnavailable and leave every record as saved: the next tick, in
this process or after a restart from the store, picks up from there.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount

from ..errors import ChainError, FeeCeilingExceeded, NonceTaken, TransactionFailed
from .fees import FeePolicy, Fees
from .nonces import NonceManager

__all__ = ["FINISHED", "Attempt", "MemoryStore", "Pipeline", "Store", "TxRecord", "TxStatus"]

log = logging.getLogger("ticketkit.tx")


class TxStatus(StrEnum):
    """A record's place in the pipeline (the module's diagram); the gateway's outbox keeps the same values."""

    queued = "queued"
    sent = "sent"
    mined = "mined"
    final = "final"
    reverted = "reverted"
    failed = "failed"


FINISHED = frozenset({TxStatus.final, TxStatus.reverted, TxStatus.failed})
# A tip floor learned from "underpriced" refusals stops doubling here (10,000 gwei): a node refusing more is
# broken.
_MAX_LEARNED_TIP = 10_000 * 10**9
_PER_TICK = frozenset({"eth_feeHistory", "eth_maxPriorityFeePerGas"})


@dataclass
class Attempt:
    """One signed version of a record's transaction (same nonce, its own fees)."""

    tx_hash: str
    raw: str
    max_fee: int
    tip: int
    block: int  # the head when it was signed (or last sent again)
    resends: int = 0  # times these bytes were sent again after the node dropped them

    @property
    def fees(self) -> Fees:
        return Fees(max_fee=self.max_fee, tip=self.tip)


@dataclass
class TxRecord:
    """A transaction the pipeline owns until it is final. Plain data: stores serialise it with `as_dict`."""

    sender: str
    to: str | None
    data: str
    value: int = 0
    gas: int = 0
    label: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    nonce: int | None = None
    status: TxStatus = TxStatus.queued
    attempts: list[Attempt] = field(default_factory=list)
    mined_hash: str | None = None
    mined_block: int | None = None
    mined_block_hash: str | None = None
    gas_used: int | None = None
    effective_gas_price: int | None = None
    contract_address: str | None = None
    waiting: str | None = None  # why it is not sent (fee ceiling), None when it is not waiting
    error: str | None = None
    reorgs: int = 0
    resends: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def tx_hash(self) -> str | None:
        """The version that counts: the mined one, else the newest sent."""
        if self.mined_hash is not None:
            return self.mined_hash
        return self.attempts[-1].tx_hash if self.attempts else None

    @property
    def replacements(self) -> int:
        return max(len(self.attempts) - 1, 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TxRecord:
        data = dict(data)
        data["attempts"] = [Attempt(**a) for a in data.get("attempts", [])]
        if "status" in data:
            data["status"] = TxStatus(data["status"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class Store(Protocol):
    """Where records live durably. `save` returns once the record would survive a crash."""

    def save(self, record: TxRecord) -> None: ...


class MemoryStore:
    """For a process that reads its state back from the chain (the library's plain calls)."""

    def save(self, record: TxRecord) -> None:
        pass


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _classify(message: str) -> str:
    text = message.lower()
    if "already known" in text or "known transaction" in text or "already imported" in text:
        return "known"
    if "nonce too low" in text or "nonce is too low" in text or "nonce has already been used" in text:
        return "nonce_low"
    if (
        "underpriced" in text
        or "fee too low" in text
        or "tip too low" in text
        or "gas price too low" in text
        or "below minimum" in text
    ):
        return "underpriced"
    if "max fee per gas less than block base fee" in text or "fee cap less than block base fee" in text:
        return "under_base"
    if "insufficient funds" in text:
        return "funds"
    return "other"


Request = Callable[[str, Sequence[Any]], dict[str, Any]]


NONCE_TAKEN_GRACE_SECONDS = 2.0  # how long a used nonce must lack a receipt of ours before it counts as taken
# (chain id, sender, record id) -> when its nonce was first seen used with no receipt of ours; per process,
# across the Pipeline objects a caller may make for each round (the gateway's worker does)
_TAKEN_SINCE: dict[tuple[int, str, str], float] = {}


class Pipeline:
    """The transactions of one sender on one chain (one pipeline per sender: it owns the sender's nonces)."""

    def __init__(
        self,
        request: Request,
        chain_id: int,
        sender: LocalAccount,
        *,
        policy: FeePolicy | None = None,
        confirmations: int = 0,
        stuck_blocks: int = 3,
        store: Store | None = None,
        nonces: NonceManager | None = None,
        on_change: Callable[[TxRecord], None] | None = None,
    ):
        self._request = request
        self.chain_id = chain_id
        self.sender = sender
        self.policy = policy or FeePolicy.for_chain(chain_id)
        self.confirmations = confirmations
        self.stuck_blocks = stuck_blocks
        self.store: Store = store or MemoryStore()
        self.nonces = nonces or NonceManager(
            lambda a: _int(self.rpc("eth_getTransactionCount", [a, "pending"]))
        )
        self.on_change = on_change
        self.records: dict[str, TxRecord] = {}
        self.by_hash: dict[str, TxRecord] = {}
        self.lock = threading.RLock()
        self.stats = {"sent": 0, "replacements": 0, "resends": 0, "reorgs": 0, "gap_fills": 0}
        self._latest_memo: int | None = None
        self._pending_memo: int | None = None
        self._tick_cache: dict[tuple[str, str], Any] = {}
        self._fees_at: tuple[int, Fees] | None = None  # (head, suggestion): one fee query per block

    # ---- the node
    def rpc(self, method: str, params: Sequence[Any]) -> Any:
        response = self._request(method, params)
        if "error" in response:
            error = response["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise ChainError(f"{method}: {message}")
        return response.get("result")

    def _rpc_fn(self, method: str, params: Sequence[Any]) -> Any:
        """The fee policy's calls, answered once per tick (the head does not move within one)."""
        if method not in _PER_TICK:
            return self.rpc(method, params)
        key = (method, repr(params))
        if key not in self._tick_cache:
            self._tick_cache[key] = self.rpc(method, params)
        return self._tick_cache[key]

    # ---- records
    def record(
        self,
        *,
        to: str | None,
        data: str,
        value: int = 0,
        gas: int,
        label: str = "",
        record_id: str | None = None,
    ) -> TxRecord:
        """Put a new transaction on record (saved, not signed yet); `tick` or `wait` will send it."""
        rec = TxRecord(sender=self.sender.address, to=to, data=data, value=value, gas=gas, label=label)
        if record_id is not None:
            rec.id = record_id
        with self.lock:
            self.store.save(rec)
            self._track(rec)
        return rec

    def resume(self, records: Iterable[TxRecord]) -> None:
        """Track records read back from a store (after a restart)."""
        with self.lock:
            for rec in records:
                if rec.sender.lower() == self.sender.address.lower():
                    self._track(rec)

    def _track(self, rec: TxRecord) -> None:
        self.records[rec.id] = rec
        for attempt in rec.attempts:
            self.by_hash[attempt.tx_hash.lower()] = rec

    def unfinished(self) -> list[TxRecord]:
        with self.lock:
            return sorted(
                (r for r in self.records.values() if not r.finished),
                key=lambda r: (r.nonce is None, r.nonce or 0),
            )

    def submit(self, *, to: str | None, data: str, value: int = 0, gas: int, label: str = "") -> TxRecord:
        """Record and send at once (a fee ceiling leaves it queued and waiting)."""
        rec = self.record(to=to, data=data, value=value, gas=gas, label=label)
        with self.lock:
            head = _int(self.rpc("eth_blockNumber", []))
            self._tick_cache, self._pending_memo = {}, None
            self._advance(rec, head, None)
        return rec

    # ---- moving records on
    def tick(self) -> list[TxRecord]:
        """Move every unfinished record one step; returns the records that changed status."""
        with self.lock:
            todo = self.unfinished()
            if not todo:
                return []
            head = _int(self.rpc("eth_blockNumber", []))
            self._latest_memo = None  # the node's mined nonce count, read once per tick if a record needs it
            self._pending_memo = None  # and its count with the pool
            self._tick_cache = {}
            changed = []
            for rec in todo:
                before = rec.status
                self._advance(rec, head, None)
                if rec.status != before:
                    changed.append(rec)
            if self._latest_memo is not None:  # some record had no receipt: is a gap holding it back?
                self._fill_gap(head, self._latest_memo)
            for rec in todo:  # finished records leave the working set (`by_hash` still finds them)
                if rec.finished:
                    self.records.pop(rec.id, None)
            return changed

    def _pending_count(self) -> int:
        """The sender's nonce count including the node's pool, read once per tick."""
        if self._pending_memo is None:
            self._pending_memo = _int(self.rpc("eth_getTransactionCount", [self.sender.address, "pending"]))
        return self._pending_memo

    def _block_hash(self, number: int) -> str | None:
        """The hash of block `number` on the node's chain now (None above its head), read once per tick."""
        key = ("eth_getBlockByNumber", str(number))
        if key not in self._tick_cache:
            block = self.rpc("eth_getBlockByNumber", [hex(number), False])
            self._tick_cache[key] = block["hash"] if block else None
        block_hash: str | None = self._tick_cache[key]
        return block_hash

    def _latest(self) -> int:
        if self._latest_memo is None:
            self._latest_memo = _int(self.rpc("eth_getTransactionCount", [self.sender.address, "latest"]))
        return self._latest_memo

    def wait(self, rec: TxRecord, *, timeout: float = 120, poll: float = 0.05) -> TxRecord:
        """Tick until `rec` is finished; past `timeout` raise (FeeCeilingExceeded if it waits for fees)."""
        deadline = time.monotonic() + timeout
        while True:
            if rec.finished:
                return rec
            self.tick()
            if rec.finished:
                return rec
            if time.monotonic() > deadline:
                if rec.waiting:
                    raise FeeCeilingExceeded(*self._ceiling_numbers(rec))
                raise TransactionFailed(
                    f"transaction {rec.tx_hash} is not final after {timeout:.0f} s "
                    f"({rec.status}); it stays tracked"
                )
            time.sleep(poll)

    def wait_until_sent(self, rec: TxRecord, *, timeout: float, poll: float = 0.05) -> None:
        """Tick until `rec` is signed and sent (it may wait for fees under the ceiling); FeeCeilingExceeded
        past `timeout`."""
        deadline = time.monotonic() + timeout
        while not rec.attempts and not rec.finished:
            if time.monotonic() > deadline:
                raise FeeCeilingExceeded(*self._ceiling_numbers(rec))
            time.sleep(poll)
            self.tick()

    def abandon(self, rec: TxRecord) -> None:
        """Give up a record nothing was signed for (no nonce taken): it never will be."""
        with self.lock:
            if rec.attempts:
                raise ValueError(
                    "a record with a signed transaction cannot be abandoned: it may still be mined"
                )
            rec.status, rec.error = TxStatus.failed, "abandoned before signing"
            self._save(rec)

    def _ceiling_numbers(self, rec: TxRecord) -> tuple[int, int]:
        base, _ = self.policy.next_base_fee(self._rpc_fn)
        needed = base + self.policy.tip_floor
        if rec.attempts:  # a replacement must also beat the version in the pool by 12.5 %
            needed = max(needed, rec.attempts[-1].max_fee * 9 // 8 + 1)
        return needed, self.policy.ceiling or 0

    def _save(self, rec: TxRecord) -> None:
        self.store.save(rec)
        if self.on_change is not None:
            self.on_change(rec)

    def _advance(self, rec: TxRecord, head: int, latest: int | None) -> None:
        if rec.status == TxStatus.queued:
            self._sign_and_send(rec, head, fresh=True)
            return
        if rec.status == TxStatus.mined:
            # Still in its block? One block-hash query per block and tick answers that for every record mined
            # in it; only a record whose block changed asks for its receipt again.
            assert rec.mined_hash is not None and rec.mined_block is not None  # a mined record has both
            if self._block_hash(rec.mined_block) == rec.mined_block_hash:
                self._finish_if_deep(rec, head)
                return
            receipt = self._receipt(rec.mined_hash)
            if receipt is None or receipt["blockHash"] != rec.mined_block_hash:
                log.warning(
                    "transaction %s (nonce %s) left the chain in a reorganisation: sending it again",
                    rec.mined_hash,
                    rec.nonce,
                )
                rec.reorgs += 1
                self.stats["reorgs"] += 1
                rec.status, rec.mined_hash, rec.mined_block, rec.mined_block_hash = (
                    TxStatus.sent,
                    None,
                    None,
                    None,
                )
                self._save(rec)
                if receipt is None:
                    self._resend(rec, head)
                    return
            if rec.status == TxStatus.mined:
                self._finish_if_deep(rec, head)
                return
        if rec.status == TxStatus.sent:
            latest = self._latest() if latest is None else latest
            if rec.nonce is not None and rec.nonce < latest:
                # The nonce is used: by one of our versions (which one counts: the one with a receipt), or by
                # another transaction. (Below the node's count nothing can be mined yet: no receipt to ask
                # for.)
                if self._find_receipt(rec, head):
                    return
                # No version has a receipt. Before calling the nonce taken, count again and ask again: the
                # count may be older than a reorganisation that just removed our version's block (then it is
                # sent again below), or a version may have been mined meanwhile.
                self._latest_memo = None
                if rec.nonce < self._latest():
                    key = (self.chain_id, self.sender.address, rec.id)
                    if self._find_receipt(rec, head):
                        _TAKEN_SINCE.pop(key, None)
                        return
                    # A node can count a nonce as used a moment before it serves the receipt of the block that
                    # used it (seen with anvil under load): call it taken only once that has lasted a while.
                    first = _TAKEN_SINCE.setdefault(key, time.monotonic())
                    if time.monotonic() - first < NONCE_TAKEN_GRACE_SECONDS:
                        return
                    _TAKEN_SINCE.pop(key, None)
                    rec.status = TxStatus.failed
                    rec.error = f"{NonceTaken.code}: nonce {rec.nonce} was used by another transaction"
                    log.error(
                        "transaction %s: nonce %s used by a transaction not on record", rec.tx_hash, rec.nonce
                    )
                    self._save(rec)
                    return
            last = rec.attempts[-1]
            if self._missing_from_pool(rec, latest):
                self._resend(rec, head)  # dropped (by the node, a fee spike, a reorganisation)
            elif head - last.block >= self.stuck_blocks:
                self._replace(rec, head)

    def _missing_from_pool(self, rec: TxRecord, latest: int) -> bool:
        """Whether the node's pool lacks every version of `rec` (not mined). The node's pending count (one
        query per tick) vouches for every nonce below it; at or above it, a pool holding nothing of the
        sender's (pending = mined count: e.g. everything dropped) needs no more questions, else the version in
        question is asked about by hash (a gap below it parks it outside the count). So a tick costs O(1)
        queries, plus O(dropped)."""
        pending = self._pending_count()
        if rec.nonce is not None and rec.nonce < pending:
            return False
        if pending <= latest:
            return True
        return self.rpc("eth_getTransactionByHash", [rec.attempts[-1].tx_hash]) is None

    def _find_receipt(self, rec: TxRecord, head: int) -> bool:
        for attempt in reversed(rec.attempts):
            receipt = self._receipt(attempt.tx_hash)
            if receipt is not None:
                self._mined(rec, receipt, head)
                return True
        return False

    def _finish_if_deep(self, rec: TxRecord, head: int) -> None:
        if head - (rec.mined_block or 0) >= self.confirmations:
            rec.status = TxStatus.final if rec.error is None else TxStatus.reverted
            self._save(rec)

    def _mined(self, rec: TxRecord, receipt: dict[str, Any], head: int) -> None:
        rec.status = TxStatus.mined
        rec.mined_hash = receipt["transactionHash"]
        rec.mined_block = _int(receipt["blockNumber"])
        rec.mined_block_hash = receipt["blockHash"]
        rec.gas_used = _int(receipt["gasUsed"])
        rec.effective_gas_price = _int(receipt.get("effectiveGasPrice") or 0)
        rec.contract_address = receipt.get("contractAddress")
        rec.error = None if _int(receipt["status"]) == 1 else "reverted"
        rec.waiting = None
        self._finish_if_deep(rec, head)
        if rec.status == TxStatus.mined:
            self._save(rec)

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        receipt: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", [tx_hash])
        return receipt

    # ---- signing and sending
    def _sign_and_send(self, rec: TxRecord, head: int, *, fresh: bool) -> None:
        try:
            cached = self._fees_at
            if (
                cached is not None
                and cached[0] == head
                and cached[1].tip >= self.policy.tip_floor
                and (self.policy.ceiling is None or cached[1].max_fee <= self.policy.ceiling)
            ):
                fees = cached[1]
            else:
                fees = self.policy.suggest(self._rpc_fn)
                self._fees_at = (head, fees)
        except FeeCeilingExceeded as error:
            self._wait_for_fees(rec, error)
            return
        if rec.nonce is None:
            rec.nonce = self.nonces.take(self.sender.address, at_least=self._highest_nonce() + 1)
        self._sign(rec, fees, head)
        self.stats["sent"] += 1
        self._broadcast(rec)

    def _highest_nonce(self) -> int:
        nonces = [
            r.nonce for r in self.records.values() if r.nonce is not None and r.status != TxStatus.failed
        ]
        return max(nonces, default=-1)

    def _wait_for_fees(self, rec: TxRecord, error: FeeCeilingExceeded) -> None:
        if rec.waiting is None:
            log.warning("transaction %s waits: %s", rec.id, error)
        rec.waiting = str(error)
        self._save(rec)

    def _sign(self, rec: TxRecord, fees: Fees, head: int) -> None:
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": rec.nonce,
            "gas": rec.gas,
            "value": rec.value,
            "data": rec.data,
            **fees.fields(),
        }
        if rec.to is not None:
            tx["to"] = rec.to
        signed = self.sender.sign_transaction(tx)
        attempt = Attempt(
            tx_hash=signed.hash.to_0x_hex(),
            raw=signed.raw_transaction.to_0x_hex(),
            max_fee=fees.max_fee,
            tip=fees.tip,
            block=head,
        )
        rec.attempts.append(attempt)
        rec.status = TxStatus.sent
        rec.waiting = None
        self._save(rec)  # on record before it exists anywhere else
        self.by_hash[attempt.tx_hash.lower()] = rec

    def _broadcast(self, rec: TxRecord) -> None:
        attempt = rec.attempts[-1]
        response = self._request("eth_sendRawTransaction", [attempt.raw])
        if "error" not in response:
            return
        error = response["error"]
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        kind = _classify(message)
        if kind in ("known", "nonce_low"):
            return  # the node has it, or a version of it is mined: the next tick finds the receipt
        if kind == "underpriced":
            # The node's tip floor is above ours (Polygon's nodes: "gas tip cap X, minimum needed Y"): learn
            # it (the minimum it names, else twice the refused tip) and sign again at once with higher fees.
            needed = re.search(r"minimum needed (\d+)", message)
            before = self.policy.tip_floor
            if needed:
                self.policy.tip_floor = max(self.policy.tip_floor, int(needed.group(1)))
            else:
                self.policy.raise_floor(attempt.tip)
            log.warning(
                "the node refuses tip %d wei as underpriced (%s): tip floor %d -> %d wei",
                attempt.tip,
                message,
                before,
                self.policy.tip_floor,
            )
            if self.policy.tip_floor > before and self.policy.tip_floor <= _MAX_LEARNED_TIP:
                self._reprice(rec, attempt.block)
            return
        if kind == "under_base":
            return  # the next tick replaces it
        if len(rec.attempts) > 1:
            log.warning(
                "the node refuses replacement %s: %s (the earlier version stays)", attempt.tx_hash, message
            )
            rec.attempts.pop()
            rec.attempts[-1].block = attempt.block  # try again `stuck_blocks` from now, not every tick
            self._save(rec)
            return
        # The node refuses the first version outright: nothing holds the nonce, so the record fails and the
        # nonce is read from the node again (a later record takes it).
        rec.status, rec.error = TxStatus.failed, message
        self._save(rec)
        self.nonces.forget(self.sender.address)
        if kind == "funds":
            raise TransactionFailed(
                f"the sender {self.sender.address} cannot pay for the transaction: {message}"
            )
        raise TransactionFailed(f"eth_sendRawTransaction: {message}")

    def _resend(self, rec: TxRecord, head: int) -> None:
        """The transaction is not in the node's pool: the same bytes if their fees still do (twice at most: a
        node that keeps dropping them knows better than the fee history), else a new version (`_reprice`)."""
        last = rec.attempts[-1]
        try:
            affordable = (
                last.resends < 2
                and last.tip >= self.policy.tip_floor
                and self.policy.affordable(last.fees, self._rpc_fn)
            )
        except ChainError:
            affordable = False
        if not affordable:
            self._reprice(rec, head)
            return
        self._send_again(rec, head)

    def _send_again(self, rec: TxRecord, head: int) -> None:
        last = rec.attempts[-1]
        rec.resends += 1
        if head > last.block:  # a block passed without it: counts towards a new version instead
            last.resends += 1
        self.stats["resends"] += 1
        last.block = head
        rec.waiting = None
        self._save(rec)
        self._broadcast(rec)

    def _reprice(self, rec: TxRecord, head: int) -> None:
        """A new version of a transaction the node no longer has: bumped fees, or — if the bump would pass the
        ceiling — fresh fees under it (no replacement rule applies to a transaction the pool does not hold);
        if those are no better than the last version's, the same bytes again."""
        last = rec.attempts[-1]
        try:
            fees = self.policy.bump(last.fees, self._rpc_fn)
        except FeeCeilingExceeded:
            try:
                fees = self.policy.suggest(self._rpc_fn)
            except FeeCeilingExceeded as error:
                self._wait_for_fees(rec, error)
                return
            if fees.max_fee <= last.max_fee and fees.tip <= last.tip:
                last.resends = 0  # the best the ceiling allows is what it has: keep offering it
                self._send_again(rec, head)
                return
        self._new_version(rec, fees, head)

    def _replace(self, rec: TxRecord, head: int) -> None:
        """A new version of a transaction still in the pool (stuck): fees bumped ≥ 12.5 %, as nodes require.
        Past the ceiling it is not signed: the version in the pool stays and may still be mined (`waiting`
        says why)."""
        try:
            fees = self.policy.bump(rec.attempts[-1].fees, self._rpc_fn)
        except FeeCeilingExceeded as error:
            self._wait_for_fees(rec, error)
            return
        self._new_version(rec, fees, head)

    def _new_version(self, rec: TxRecord, fees: Fees, head: int) -> None:
        log.info(
            "replacing transaction %s (nonce %s) with max fee %d, tip %d",
            rec.tx_hash,
            rec.nonce,
            fees.max_fee,
            fees.tip,
        )
        self.stats["replacements"] += 1
        self._sign(rec, fees, head)
        self._broadcast(rec)

    # ---- gaps
    def _fill_gap(self, head: int, latest: int) -> None:
        """A nonce between the chain's count and our lowest pending record that nothing on record holds."""
        waiting = [
            (r.nonce, r) for r in self.records.values() if r.status == TxStatus.sent and r.nonce is not None
        ]
        if not waiting:
            return
        lowest_nonce, lowest = min(waiting, key=lambda pair: pair[0])
        if lowest_nonce <= latest:
            return
        held = {r.nonce for r in self.records.values() if r.nonce is not None and r.status != TxStatus.failed}
        # Stateless (a worker rebuilt from its store each round sees the same): the lowest record has waited
        # `stuck_blocks` since it was first sent, and the gap is still there.
        if head - min(a.block for a in lowest.attempts) < self.stuck_blocks:
            return
        pending = _int(self.rpc("eth_getTransactionCount", [self.sender.address, "pending"]))
        for nonce in range(max(latest, pending), lowest_nonce):
            if nonce in held:
                continue
            filler = TxRecord(
                sender=self.sender.address,
                to=self.sender.address,
                data="0x",
                gas=21_000,
                label="nonce gap filler",
                nonce=nonce,
            )
            log.warning(
                "nonce %d of %s was handed out and never sent: filling it with a zero-value transfer",
                nonce,
                self.sender.address,
            )
            self.stats["gap_fills"] += 1
            self.store.save(filler)
            self._track(filler)
            self._sign_and_send(filler, head, fresh=True)
