"""The durable queue of check-ins to the chain: admitted tickets reach `checkIn(tokenIds)` in batches.

Admissions (`gate_admissions`, one per admitted ticket, written by the gate) are the queue: `chain_status`
queued → sent → done. The operator sends the collection's `checkIn`, which marks the tickets used and mints
the attendance badges; it needs the collection's GATE_ROLE (the organiser grants it, like MINTER_ROLE).

A batch goes: claim up to `max_batch` queued admissions of one event, oldest first, under a new pending
CheckinBatch (the admissions `sent`; commit) → estimate `Collection.check_in_call` (a contract refusal gives
the admissions back) → its outbox row (services/sending.py) committed → the sending worker signs, broadcasts,
replaces and confirms it like every operator transaction, and applies the outcome (`apply_outcome`) once the
receipt is `confirmations` blocks deep: success → batch done, admissions done (tickets the contract skipped,
already used or gone, are done too: the chain has decided them); a revert, or a transaction that can never be
mined → batch `failed`, its admissions queued again. A reorganisation that removes the receipt before it is
deep enough is the pipeline's business: the same transaction is sent again and lands once.

A pending batch without an outbox row was claimed by a drainer that died before recording it: given back
to the queue (the batch row deleted) once older than `stale_after` seconds.

Every outcome is a claim (`UPDATE … WHERE status = 'pending'`) in one database transaction with the
admissions it moves, so it applies once. Two drainers never claim the same admissions: PostgreSQL takes them
with FOR UPDATE SKIP LOCKED; on SQLite the batch's INSERT, the claim's first statement, takes the database's
write lock, which serialises claims. On chain a ticket is checked in at most once whatever happens, because
the contract skips used tickets.

An event cancelled on chain is final: `checkIn` reverts with EventIsCancelled, and its admissions become
`cancelled` (never sent again; the holders are refunded instead) rather than waiting in the queue forever.

An RPC failure leaves everything as it is (queued, or pending with its outbox row) and raises RPCUnavailable;
the next drain picks up from there. `CheckinQueue` runs `drain_once` in a thread for the app's lifetime
(`settings.checkin_queue_enabled`), backing off while the node is down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, update
from sqlmodel import Session, col, select
from web3.logs import DISCARD

import ticketkit as tk
from ticketkit.chain import translate_error

from .. import db
from ..models import Admission, ChainTransaction, CheckinBatch, Event, QueueState, SendStatus, as_utc, utcnow
from ..runtime import Runtime
from . import background, sending

log = logging.getLogger("gateway.checkin_queue")

ADMISSIONS = db.table_of(Admission)
BATCHES = db.table_of(CheckinBatch)
SKIP_REASONS = {tk.SKIP_NOT_FOUND: "not found", tk.SKIP_ALREADY_USED: "already used"}


@dataclass
class DrainReport:
    """What one `drain_once` did."""

    sent: int = 0  # new batches recorded in the outbox
    done: int = 0  # batches finished, new or reconciled
    checked_in: int = 0  # admissions marked done
    skipped: int = 0  # of the tickets in finished batches, those the contract skipped (already used, gone)
    requeued: int = 0  # admissions given back to the queue (a batch never sent, dropped or reverted)
    cancelled: int = 0  # admissions of events cancelled on chain, taken out of the queue for good
    pending: int = 0  # batches still pending at the end (not final yet, or being prepared elsewhere)
    gas_used: int = 0  # by the batches finished
    refused: dict[uuid.UUID, str] = field(default_factory=dict)  # events whose checkIn the contract refuses

    def add(self, other: DrainReport) -> None:
        for name in ("done", "checked_in", "skipped", "requeued", "cancelled", "gas_used"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Claim:
    batch_id: uuid.UUID
    event_id: uuid.UUID
    collection: str
    token_ids: list[int]


# ---- draining
def drain_once(
    runtime: Runtime,
    *,
    max_batch: int = 100,
    stale_after: float = 60.0,
    receipt_timeout: float = 15.0,
    hold: Iterable[uuid.UUID] = (),
) -> DrainReport:
    """Give back stale unrecorded batches, then record every event's queued admissions as batches of
    `max_batch`, and run the sending worker up to `receipt_timeout` seconds: batches final by then are done
    (or queued again), the others stay pending for the worker. Events in `hold` are not sent this time. RPC
    failures raise RPCUnavailable with everything left queued or pending."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    try:
        return _drain(
            runtime,
            max_batch=max_batch,
            stale_after=stale_after,
            receipt_timeout=receipt_timeout,
            hold=set(hold),
        )
    except tk.TicketkitError:
        raise
    except Exception as error:  # web3 transport errors become ticketkit's; others re-raise
        translated = translate_error(error)
        if translated is error:
            raise
        raise translated from error


def _drain(
    runtime: Runtime, *, max_batch: int, stale_after: float, receipt_timeout: float, hold: set[uuid.UUID]
) -> DrainReport:
    chain, engine = runtime.chain(), runtime.engine
    runtime.operator()  # no operator key: nothing to do
    _ = chain.w3.eth.block_number  # the node answers, or nothing is touched
    report = DrainReport()
    _give_back_stale(engine, stale_after, report)
    with Session(engine) as session:
        queued = select(Admission.event_id).where(Admission.chain_status == QueueState.queued)
        events = list(
            session.exec(select(Event.id, Event.collection_address).where(col(Event.id).in_(queued)))
        )
    for event_id, collection in events:
        if event_id in hold:
            continue
        while (claim := _claim(engine, event_id, collection, max_batch)) is not None:
            if _record(runtime, claim, report) != "recorded":
                break
    _run_worker(runtime, report, receipt_timeout)
    return report


def _run_worker(runtime: Runtime, report: DrainReport, timeout: float) -> None:
    """Run the sending worker until no check-in batch is pending or `timeout` passes; fold what it finished
    into `report`."""
    deadline = time.monotonic() + timeout
    while True:
        sent = sending.run_once(runtime)
        if sent is not None and sent.checkin is not None:
            report.add(sent.checkin)
        with Session(runtime.engine) as session:
            pending = session.exec(
                select(func.count())
                .select_from(CheckinBatch)
                .where(CheckinBatch.status == SendStatus.pending)
            ).one()
        if not pending or time.monotonic() > deadline:
            report.pending = pending
            return
        time.sleep(0.05)


def _claim(engine: Engine, event_id: uuid.UUID, collection: str, max_batch: int) -> _Claim | None:
    """Take up to `max_batch` queued admissions of the event, oldest first, under a new pending batch."""
    with Session(engine) as session:
        batch = CheckinBatch(event_id=event_id, token_ids="[]")
        session.add(batch)
        session.flush()  # SQLite: this INSERT takes the write lock until the commit
        ids = list(
            session.exec(
                select(Admission.id)
                .where(Admission.event_id == event_id, Admission.chain_status == QueueState.queued)
                .order_by(col(Admission.admitted_at), col(Admission.id))
                .limit(max_batch)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(ADMISSIONS)
                .where(ADMISSIONS.c.id.in_(ids), ADMISSIONS.c.chain_status == QueueState.queued)
                .values(chain_status=QueueState.sent, batch_id=batch.id)
            )
        token_ids = sorted(session.exec(select(Admission.token_id).where(Admission.batch_id == batch.id)))
        if not token_ids:
            session.rollback()
            return None
        batch.token_ids = json.dumps(token_ids)
        session.add(batch)
        batch_id = batch.id
        session.commit()
    return _Claim(batch_id, event_id, collection, token_ids)


def _record(runtime: Runtime, claim: _Claim, report: DrainReport) -> str:
    """Estimate the claimed batch's checkIn and put it in the outbox: 'recorded', 'refused', 'cancelled' or
    'failed' (given back meanwhile)."""
    engine = runtime.engine
    call = tk.Collection(runtime.chain(), claim.collection).check_in_call(claim.token_ids)
    with Session(engine) as session:
        try:
            sending.enqueue(session, runtime, kind="checkin", record_id=claim.batch_id, call=call)
        except Exception as error:
            session.rollback()
            if isinstance(error, tk.errors.EventIsCancelled):
                report.cancelled += _cancel(engine, claim.batch_id)
                log.warning(
                    "event %s is cancelled on chain: its queued admissions will not be checked in",
                    claim.event_id,
                )
                return "cancelled"
            _give_back(engine, claim.batch_id, error=None)  # nothing was sent
            if isinstance(error, tk.ContractRevert | tk.TransactionFailed):
                report.refused[claim.event_id] = type(error).__name__
                log.warning("checkIn refused for event %s: %s", claim.event_id, error)
                return "refused"
            raise
        still = (
            db.rowcount(
                session.execute(
                    update(BATCHES)
                    .where(BATCHES.c.id == claim.batch_id, BATCHES.c.status == SendStatus.pending)
                    .values(error=None)
                )
            )
            == 1
        )
        if not still:  # given back while it was being estimated
            session.rollback()
            return "failed"
        session.commit()
    report.sent += 1
    return "recorded"


def apply_outcome(runtime: Runtime, row: Any, receipt: Any | None, sent: Any) -> str:
    """The sending worker's call once a batch's transaction is finished: `receipt` (successful) settles it,
    None queues its admissions again. Folds the counts into `sent.checkin` (a DrainReport)."""
    if sent.checkin is None:
        sent.checkin = DrainReport()
    report: DrainReport = sent.checkin
    if receipt is None:
        _give_back(
            runtime.engine,
            row.record_id,
            error=(row.error or f"transaction {row.status}")[:200],
            report=report,
        )
        return "dropped"
    collection = tk.Collection(runtime.chain(), row.to)
    return _settle(runtime.engine, collection, row.record_id, receipt, report)


# ---- outcomes (each a claim on the pending batch, with the admissions it moves)
def _settle(
    engine: Engine, collection: tk.Collection, batch_id: uuid.UUID, receipt: Any, report: DrainReport
) -> str:
    if receipt["status"] != 1:
        _give_back(engine, batch_id, error=f"reverted (gas used {receipt['gasUsed']})", report=report)
        return "failed"
    skipped = collection.contract.events.CheckInSkipped().process_receipt(receipt, errors=DISCARD)
    counts: dict[str, int] = {}
    for log_entry in skipped:
        reason = SKIP_REASONS.get(log_entry["args"]["reason"], str(log_entry["args"]["reason"]))
        counts[reason] = counts.get(reason, 0) + 1
    note = None
    if counts:
        note = "skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    with engine.begin() as conn:
        claimed = (
            conn.execute(
                update(BATCHES)
                .where(BATCHES.c.id == batch_id, BATCHES.c.status == SendStatus.pending)
                .values(
                    status=SendStatus.done,
                    done_at=utcnow(),
                    error=note,
                    tx_hash=receipt["transactionHash"].to_0x_hex(),
                )
            ).rowcount
            == 1
        )
        if not claimed:
            return "done"  # finished by another drainer
        moved = conn.execute(
            update(ADMISSIONS)
            .where(ADMISSIONS.c.batch_id == batch_id, ADMISSIONS.c.chain_status == QueueState.sent)
            .values(chain_status=QueueState.done)
        ).rowcount
    report.done += 1
    report.checked_in += moved
    report.skipped += len(skipped)
    report.gas_used += receipt["gasUsed"]
    return "done"


def _give_back(
    engine: Engine, batch_id: uuid.UUID, *, error: str | None, report: DrainReport | None = None
) -> bool:
    """Queue the batch's admissions again. A batch never sent (`error` None) is deleted; one whose transaction
    was sent stays on record as `failed` with `error`. False if the batch was no longer pending."""
    unsent = error is None
    condition = (BATCHES.c.id == batch_id) & (BATCHES.c.status == SendStatus.pending)
    if unsent:
        condition &= BATCHES.c.tx_hash.is_(None)
    with engine.begin() as conn:
        if (
            conn.execute(
                update(BATCHES).where(condition).values(status=SendStatus.failed, error=error)
            ).rowcount
            != 1
        ):
            return False
        moved = conn.execute(
            update(ADMISSIONS)
            .where(ADMISSIONS.c.batch_id == batch_id, ADMISSIONS.c.chain_status == QueueState.sent)
            .values(chain_status=QueueState.queued, batch_id=None)
        ).rowcount
        if unsent:
            conn.execute(delete(BATCHES).where(BATCHES.c.id == batch_id))
    if report is not None:
        report.requeued += moved
    return True


def _cancel(engine: Engine, batch_id: uuid.UUID) -> int:
    """Take the unsent batch's admissions out of the queue for good (their event is cancelled); how many."""
    with engine.begin() as conn:
        moved = conn.execute(
            update(ADMISSIONS)
            .where(ADMISSIONS.c.batch_id == batch_id, ADMISSIONS.c.chain_status == QueueState.sent)
            .values(chain_status=QueueState.cancelled, batch_id=None)
        ).rowcount
        conn.execute(delete(BATCHES).where(BATCHES.c.id == batch_id, BATCHES.c.tx_hash.is_(None)))
    return moved


# ---- batches a dead drainer claimed and never recorded
def _age(created: datetime) -> timedelta:
    return utcnow() - as_utc(created)


def _give_back_stale(engine: Engine, stale_after: float, report: DrainReport) -> None:
    recorded = select(ChainTransaction.record_id).where(ChainTransaction.kind == "checkin")
    with Session(engine) as session:
        stale = [
            (batch_id, created)
            for batch_id, created in session.exec(
                select(CheckinBatch.id, CheckinBatch.created_at).where(
                    col(CheckinBatch.status) == SendStatus.pending, col(CheckinBatch.id).not_in(recorded)
                )
            )
            if _age(created) >= timedelta(seconds=stale_after)
        ]
    for batch_id, _ in stale:
        _give_back(engine, batch_id, error=None, report=report)


# ---- the runner
class CheckinQueue:
    """`drain_once` in a loop: every `poll_seconds`; after a failure (node down) with exponential backoff
    up to `max_backoff`; an event whose checkIn the contract refuses (no GATE_ROLE, cancelled) is held back
    likewise."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        stale_after: float = 60.0,
        max_backoff: float = 30.0,
    ):
        self.runtime = runtime
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after
        self.max_backoff = max_backoff

    def run_forever(self, stop: threading.Event) -> None:
        held: dict[uuid.UUID, tuple[float, int]] = {}  # event -> (held until, refusals in a row)

        def drain() -> None:
            now = time.monotonic()
            hold = {event_id for event_id, (until, _) in held.items() if until > now}
            report = drain_once(
                self.runtime,
                max_batch=self.batch_size,
                stale_after=self.stale_after,
                hold=hold,
                receipt_timeout=0,
            )
            for event_id in [e for e in held if e not in hold and e not in report.refused]:
                del held[event_id]
            for event_id in report.refused:
                strikes = held.get(event_id, (0.0, 0))[1] + 1
                held[event_id] = (
                    now + background.backoff(self.poll_seconds, strikes, self.max_backoff),
                    strikes,
                )
            if report.checked_in or report.requeued or report.cancelled:
                log.info("check-in queue: %s", report)

        background.run_rounds(
            stop,
            drain,
            what="check-in queue: drain",
            log=log,
            poll_seconds=self.poll_seconds,
            max_backoff=self.max_backoff,
        )


@contextmanager
def running(runtime: Runtime) -> Iterator[CheckinQueue | None]:
    """With `settings.checkin_queue_enabled`, the queue's thread for the duration of the block."""
    settings = runtime.settings
    if not settings.checkin_queue_enabled:
        yield None
        return
    queue = CheckinQueue(
        runtime, batch_size=settings.checkin_batch_size, poll_seconds=settings.checkin_poll_seconds
    )
    with background.thread("checkin-queue", queue.run_forever):
        yield queue
