"""The gateway's side of the one transaction pipeline (ticketkit.tx): the outbox and its worker.

A write that needs the chain (an issuance, a gift, a resale settlement, a check-in batch) estimates its call
(a contract refusal raises here, before anything is recorded), then `enqueue`s a ChainTransaction in the SAME
database transaction as its own record, and returns: the record is `pending`. No request waits for the chain
holding a database connection.

The worker (`run_once`, in a thread for the app's lifetime: `running`) is one per chain and operator across
every process (`db.try_lease`). Each round it reads the unfinished outbox rows, lets ticketkit's Pipeline move
them (sign with a nonce and fees — saved before broadcasting —, broadcast, find receipts, replace what is
stuck or dropped, send again what a reorganisation removed, wait `confirmations` blocks), and applies the
outcome of each finished row to its record exactly once (`applied`; each outcome is also a claim on the
record's `pending` status): done, or dropped (the contract reverted, or the nonce was taken: nothing happened
on chain). One nonce manager: the outbox's nonces and the node's count; no nonce is handed out without being
saved with its signed transaction, so there is no gap to leave.

`health(engine)` is what /readyz and /metrics show: pending transactions, the oldest one's age, and whether
anything waits because the fees it needs are above the operator's ceiling (and why).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, func, insert, update
from sqlmodel import Session, col
from sqlmodel import select as orm_select

import ticketkit as tk
from ticketkit.chain import translate_error
from ticketkit.tx import FINISHED, Attempt, NonceManager, Pipeline, TxRecord, TxStatus

from .. import db
from ..models import ChainTransaction, as_utc, utcnow
from ..runtime import Runtime
from . import background

log = logging.getLogger("gateway.sending")

OUTBOX = db.table_of(ChainTransaction)
_FIELDS = (
    "nonce",
    "status",
    "mined_hash",
    "mined_block",
    "mined_block_hash",
    "gas_used",
    "waiting",
    "error",
    "reorgs",
    "resends",
)


# ---- recording
def enqueue(
    session: Session, runtime: Runtime, *, kind: str, record_id: uuid.UUID, call: Any, value: int = 0
) -> ChainTransaction:
    """Estimate `call` as the operator (a contract refusal raises, translated, before anything is recorded)
    and add its outbox row to `session`: the caller commits it with its own record."""
    operator = runtime.operator()
    try:
        gas = int(call.estimate_gas({"from": operator.address, "value": value}) * 1.2) + 10_000
        data = tk.call_data(call)
    except Exception as error:  # noqa: BLE001  # translated
        raise translate_error(error) from None
    row = ChainTransaction(
        chain_id=runtime.settings.chain_id,
        sender=operator.address,
        kind=kind,
        record_id=record_id,
        to=call.address,
        data=data,
        value=str(value),
        gas=gas,
    )
    session.add(row)
    return row


def transaction_of(session: Session, record_id: uuid.UUID) -> ChainTransaction | None:
    """The newest outbox row serving `record_id`."""
    return session.exec(
        orm_select(ChainTransaction)
        .where(col(ChainTransaction.record_id) == record_id)
        .order_by(col(ChainTransaction.created_at).desc())
    ).first()


def await_outcome(runtime: Runtime, tx_id: uuid.UUID, timeout: float) -> ChainTransaction | None:
    """Wait up to `timeout` seconds for the outbox row `tx_id` to be applied (None if it is not yet), holding
    no database connection in between; drives the worker itself when no other holder of the lease does."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(runtime.engine) as session:
            row = session.get(ChainTransaction, tx_id)
            if row is not None:
                session.expunge(row)
        if row is None or row.applied:
            return row
        if time.monotonic() > deadline:
            return None
        if run_once(runtime) is None:
            time.sleep(0.05)  # another worker holds the lease: it will apply it
        else:
            time.sleep(0.02)


# ---- the store the pipeline saves into
def _record_of(row: ChainTransaction) -> TxRecord:
    attempts = [Attempt(**a) for a in json.loads(row.attempts)]
    return TxRecord(
        sender=row.sender,
        to=row.to,
        data=row.data,
        value=int(row.value),
        gas=row.gas,
        label=row.kind,
        id=row.id.hex,
        nonce=row.nonce,
        status=row.status,
        attempts=attempts,
        mined_hash=row.mined_hash,
        mined_block=row.mined_block,
        mined_block_hash=row.mined_block_hash,
        gas_used=row.gas_used,
        effective_gas_price=int(row.effective_gas_price) if row.effective_gas_price else None,
        waiting=row.waiting,
        error=row.error,
        reorgs=row.reorgs,
        resends=row.resends,
    )


class OutboxStore:
    """Saves the pipeline's records into chain_transactions, one short database transaction each."""

    def __init__(self, engine: Engine, chain_id: int):
        self.engine, self.chain_id = engine, chain_id

    def save(self, rec: TxRecord) -> None:
        values: dict[str, Any] = {name: getattr(rec, name) for name in _FIELDS}
        values["attempts"] = json.dumps([vars(a) for a in rec.attempts])
        values["effective_gas_price"] = str(rec.effective_gas_price) if rec.effective_gas_price else None
        values["error"] = values["error"][:300] if values["error"] else None
        values["waiting"] = values["waiting"][:300] if values["waiting"] else None
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            if (
                conn.execute(update(OUTBOX).where(OUTBOX.c.id == uuid.UUID(rec.id)).values(**values)).rowcount
                == 0
            ):
                conn.execute(
                    insert(OUTBOX).values(  # a record the pipeline made itself (a nonce-gap filler)
                        id=uuid.UUID(rec.id),
                        chain_id=self.chain_id,
                        sender=rec.sender,
                        kind="filler",
                        to=rec.to,
                        data=rec.data,
                        value=str(rec.value),
                        gas=rec.gas,
                        applied=True,
                        created_at=utcnow(),
                        **values,
                    )
                )


# ---- the worker
@dataclass
class SendReport:
    """What one `run_once` did."""

    pending: int = 0  # outbox rows unfinished at the end
    applied: list[tuple[str, uuid.UUID | None, str]] = field(default_factory=list)  # (kind, record, outcome)
    checkin: Any = None  # a checkin_queue.DrainReport of the check-in batches finished
    stats: dict[str, int] = field(default_factory=dict)


def _lease_name(runtime: Runtime) -> str:
    return f"sender:{runtime.settings.chain_id}:{runtime.operator().address.lower()}"


def run_once(runtime: Runtime) -> SendReport | None:
    """One round of the worker; None if another worker holds the lease (it does the work)."""
    lease = db.try_lease(runtime.engine, _lease_name(runtime))
    if lease is None:
        return None
    try:
        return _round(runtime)
    finally:
        lease.release()


def _round(runtime: Runtime) -> SendReport:
    chain, engine, operator = runtime.chain(), runtime.engine, runtime.operator()
    report = SendReport()
    with Session(engine) as session:
        rows = list(
            session.exec(
                orm_select(ChainTransaction)
                .where(
                    col(ChainTransaction.chain_id) == runtime.settings.chain_id,
                    col(ChainTransaction.sender) == operator.address,
                    col(ChainTransaction.status).not_in(FINISHED),
                )
                .order_by(col(ChainTransaction.created_at))
            )
        )
    if rows:

        def pending_nonce(address: str) -> int:
            return chain.w3.eth.get_transaction_count(to_checksum_address(address), "pending")

        pipeline = Pipeline(
            chain.request,
            chain.chain_id,
            operator,
            policy=runtime.fee_policy(),
            confirmations=runtime.confirmations(),
            stuck_blocks=runtime.stuck_blocks(),
            store=OutboxStore(engine, chain.chain_id),
            nonces=NonceManager(pending_nonce),
        )
        pipeline.resume(_record_of(row) for row in rows)
        pipeline.tick()
        report.stats = dict(pipeline.stats)
        _STATS.add(pipeline.stats)
    _apply_finished(runtime, report)
    with Session(engine) as session:
        report.pending = session.exec(
            orm_select(func.count())
            .select_from(ChainTransaction)
            .where(col(ChainTransaction.status).not_in(FINISHED))
        ).one()
    return report


def _apply_finished(runtime: Runtime, report: SendReport) -> None:
    """Apply each finished, unapplied row's outcome to its record, then mark the row applied."""
    engine = runtime.engine
    with Session(engine) as session:
        rows = list(
            session.exec(
                orm_select(ChainTransaction)
                .where(
                    col(ChainTransaction.status).in_(FINISHED),
                    col(ChainTransaction.applied).is_(False),
                )
                .order_by(col(ChainTransaction.created_at))
            )
        )
        for row in rows:
            session.expunge(row)
    for row in rows:
        receipt = None
        if row.status in (TxStatus.final, TxStatus.reverted) and row.mined_hash:
            receipt = runtime.chain().w3.eth.get_transaction_receipt(HexStr(row.mined_hash))
        if row.status == TxStatus.reverted:
            row.error = _revert_reason(runtime, row, receipt)
        outcome = _apply(runtime, row, receipt, report)
        with engine.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == row.id).values(applied=True, error=row.error))
        report.applied.append((row.kind, row.record_id, outcome))


def _revert_reason(runtime: Runtime, row: ChainTransaction, receipt: Any) -> str:
    chain = runtime.chain()
    error = chain.revert_reason(
        receipt, {"from": row.sender, "to": row.to, "data": row.data, "value": int(row.value)}
    )
    return f"{type(error).__name__}: {error}"[:300]


def raise_outcome(row: ChainTransaction) -> None:
    """For a request that waited: raise what made its transaction fail (the contract's error when known)."""
    if row.status == TxStatus.final:
        return
    name = (row.error or "").split(":", 1)[0]
    if row.status == TxStatus.reverted and name in tk.errors._REGISTRY:
        raise tk.errors.error_class(name)()
    raise tk.TransactionFailed(f"the transaction did not go through: {row.error or row.status}")


def _apply(runtime: Runtime, row: ChainTransaction, receipt: Any, report: SendReport) -> str:
    from . import checkin_queue, recovery  # they import this module

    succeeded = receipt is not None and receipt["status"] == 1
    if row.kind == "checkin":
        return checkin_queue.apply_outcome(runtime, row, receipt if succeeded else None, report)
    if row.kind in recovery.KINDS:
        return recovery.apply_outcome(runtime, row, receipt if succeeded else None)
    return "done"


# ---- health (for /readyz and /metrics)
@dataclass(frozen=True)
class Health:
    """The outbox at a glance. `waiting_for_fees` counts transactions not sent because the fees they need are
    above the operator's ceiling; `reason` says so in words (None when nothing waits)."""

    pending: int
    oldest_pending_seconds: float | None
    oldest_pending_blocks: int | None
    waiting_for_fees: int
    reason: str | None
    replacements: int

    @property
    def ok(self) -> bool:
        return self.waiting_for_fees == 0


def health(engine: Engine, *, head: int | None = None) -> Health:
    """The outbox's health; `head` (the chain's block number) gives the oldest signed transaction's age in
    blocks."""
    with Session(engine) as session:
        unfinished = col(ChainTransaction.status).not_in(FINISHED)
        pending, oldest = session.exec(
            orm_select(func.count(), func.min(ChainTransaction.created_at)).where(unfinished)
        ).one()
        waiting = list(
            session.exec(
                orm_select(col(ChainTransaction.waiting))
                .where(unfinished, col(ChainTransaction.waiting).is_not(None))
                .limit(1)
            )
        )
        waiting_count = session.exec(
            orm_select(func.count())
            .select_from(ChainTransaction)
            .where(unfinished, col(ChainTransaction.waiting).is_not(None))
        ).one()
        attempts = list(session.exec(orm_select(col(ChainTransaction.attempts)).where(unfinished)))
        oldest_block = None
        for raw in attempts:
            blocks = [a["block"] for a in json.loads(raw)]
            if blocks:
                oldest_block = min(blocks) if oldest_block is None else min(oldest_block, min(blocks))
    age = None
    if oldest is not None:
        age = (utcnow() - as_utc(oldest)).total_seconds()
    return Health(
        pending=pending,
        oldest_pending_seconds=age,
        oldest_pending_blocks=None if head is None or oldest_block is None else head - oldest_block,
        waiting_for_fees=waiting_count,
        reason=waiting[0] if waiting else None,
        replacements=_STATS.totals.get("replacements", 0),
    )


class _Stats:
    """Counters of this process's pipeline rounds (replacements, resends, reorganisations, gap fills)."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, stats: dict[str, int]) -> None:
        with self._lock:
            for key, value in stats.items():
                self.totals[key] = self.totals.get(key, 0) + value


_STATS = _Stats()


# ---- the runner
class Sender:
    """`run_once` in a loop every `poll_seconds`; after a failure (node down) with exponential backoff."""

    def __init__(self, runtime: Runtime, *, poll_seconds: float = 0.5, max_backoff: float = 30.0):
        self.runtime, self.poll_seconds, self.max_backoff = runtime, poll_seconds, max_backoff

    def run_forever(self, stop: threading.Event) -> None:
        background.run_rounds(
            stop,
            lambda: run_once(self.runtime),
            what="sending worker: round",
            log=log,
            poll_seconds=self.poll_seconds,
            max_backoff=self.max_backoff,
        )


@contextmanager
def running(runtime: Runtime) -> Iterator[Sender | None]:
    """With `settings.sender_enabled` and an operator key, the worker's thread for the duration of the
    block."""
    settings = runtime.settings
    if not settings.sender_enabled or settings.operator_key is None:
        yield None
        return
    sender = Sender(runtime, poll_seconds=settings.sender_poll_seconds)
    with background.thread("sender", sender.run_forever):
        yield sender


def unfinished_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            orm_select(func.count())
            .select_from(ChainTransaction)
            .where(col(ChainTransaction.status).not_in(FINISHED))
        ).one()


def settle(runtime: Runtime, *, timeout: float = 30.0) -> None:
    """Run the worker until every outbox row is finished and applied (tests, the demo, `make chaos`)."""
    deadline = time.monotonic() + timeout
    while True:
        run_once(runtime)
        with Session(runtime.engine) as session:
            left = session.exec(
                orm_select(func.count())
                .select_from(ChainTransaction)
                .where(col(ChainTransaction.applied).is_(False))
            ).one()
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise tk.ChainError(f"{left} operator transaction(s) not final after {timeout:.0f} s")
        time.sleep(0.05)
