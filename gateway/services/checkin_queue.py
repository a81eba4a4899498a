"""The durable queue of check-ins to the chain: admitted tickets reach `checkIn(tokenIds)` in batches.

Admissions (`gate_admissions`, one per admitted ticket, written by the gate) are the queue: `chain_status`
queued → sent → done. The operator sends the collection's `checkIn`, which marks the tickets used and mints
the attendance badges; it needs the collection's GATE_ROLE (the organiser grants it, like MINTER_ROLE).

A batch goes: claim up to `max_batch` queued admissions of one event, oldest first, under a new pending
CheckinBatch (the admissions `sent`; commit) → `sending.prepare` (estimate — a contract refusal gives the
admissions back —, a nonce from the database, sign) → commit the hash and the signed bytes on the batch →
broadcast → receipt `confirmations` blocks deep → batch `done`, admissions `done`. A receipt not deep enough
yet leaves the batch pending: if a reorganisation drops the transaction, the next reconciliation sees no
receipt and sends it again (or queues the admissions again), so nothing is marked done that the chain forgot.
So a pending batch is in one of three states, and `reconcile_batch` decides it from the chain:

- no `tx_hash`: nothing was sent. Given back to the queue (the batch row deleted) once older than
  `stale_after` seconds; a younger one may belong to a drainer still preparing it, whose recording step is
  conditional on the batch still being pending and unsent, so it never broadcasts a batch given back.
- a receipt (deep enough): success → done (tickets the contract skipped, already used or gone, are done too:
  the chain has decided them); a revert → `failed`, its admissions queued again.
- no receipt: if the operator's nonce of the recorded transaction is used, the transaction can never be
  mined → `failed`, its admissions queued again; otherwise the recorded bytes are broadcast again.

Every outcome is a claim (`UPDATE … WHERE status = 'pending'`) in one database transaction with the
admissions it moves, so two drainers, or a drainer and a reconciler, apply it once. Two drainers never claim
the same admissions: PostgreSQL takes them with FOR UPDATE SKIP LOCKED; on SQLite the batch's INSERT, the
claim's first statement, takes the database's write lock, which serialises claims. On chain a ticket is
checked in at most once whatever happens, because the contract skips used tickets.

An event cancelled on chain is final: `checkIn` reverts with EventIsCancelled, and its admissions become
`cancelled` (never sent again; the holders are refunded instead) rather than waiting in the queue forever.

An RPC failure leaves everything as it is (queued, or pending with its recorded transaction) and raises
RPCUnavailable; the next drain picks up from there. `CheckinQueue` runs `drain_once` in a thread for the app's
lifetime (`settings.checkin_queue_enabled`), backing off while the node is down.
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
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, select
from web3.exceptions import TimeExhausted
from web3.logs import DISCARD

import ticketkit as tk
from ticketkit.chain import translate_error

from ..models import Admission, CheckinBatch, Event, utcnow
from ..runtime import Runtime
from . import sending

log = logging.getLogger("gateway.checkin_queue")

ADMISSIONS = Admission.__table__  # type: ignore[attr-defined]
BATCHES = CheckinBatch.__table__  # type: ignore[attr-defined]
SKIP_REASONS = {tk.SKIP_NOT_FOUND: "not found", tk.SKIP_ALREADY_USED: "already used"}


@dataclass
class DrainReport:
    """What one `drain_once` did."""

    sent: int = 0  # new batches broadcast
    done: int = 0  # batches finished, new or reconciled
    checked_in: int = 0  # admissions marked done
    skipped: int = 0  # of the tickets in finished batches, those the contract skipped (already used, gone)
    requeued: int = 0  # admissions given back to the queue (a batch never sent, dropped or reverted)
    cancelled: int = 0  # admissions of events cancelled on chain, taken out of the queue for good
    pending: int = 0  # batches still pending at the end (not mined yet, or being prepared elsewhere)
    gas_used: int = 0  # by the batches finished
    nonce_gap: str | None = None  # 'rebroadcast' or 'filled' if the operator's nonces had a gap (sending.py)
    refused: dict[uuid.UUID, str] = field(default_factory=dict)  # events whose checkIn the contract refuses


@dataclass(frozen=True)
class _Claim:
    batch_id: uuid.UUID
    event_id: uuid.UUID
    collection: str
    token_ids: list[int]


# ---- draining
def drain_once(runtime: Runtime, *, max_batch: int = 100, stale_after: float = 60.0,
               receipt_timeout: float = 15.0, hold: Iterable[uuid.UUID] = (), confirmations: int = 0) -> DrainReport:
    """Reconcile the pending batches, then send every event's queued admissions, `max_batch` per transaction.

    Events in `hold` are not sent this time. A batch that is not mined within `receipt_timeout` seconds, or
    whose receipt is less than `confirmations` blocks deep, stays pending (the next drain reconciles it) and
    ends its event's turn. RPC failures raise RPCUnavailable with everything left queued or pending.
    """
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    if confirmations < 0:
        raise ValueError("confirmations must not be negative")
    try:
        return _drain(runtime, max_batch=max_batch, stale_after=stale_after, receipt_timeout=receipt_timeout,
                      hold=set(hold), confirmations=confirmations)
    except tk.TicketkitError:
        raise
    except Exception as error:  # noqa: BLE001 - web3 transport errors become ticketkit's; others re-raise
        translated = translate_error(error)
        if translated is error:
            raise
        raise translated from error


def _drain(runtime: Runtime, *, max_batch: int, stale_after: float, receipt_timeout: float,
           hold: set[uuid.UUID], confirmations: int) -> DrainReport:
    chain, engine = runtime.chain(), runtime.engine
    runtime.operator()  # no operator key: nothing to do
    chain.w3.eth.block_number  # noqa: B018 - the node answers, or nothing is touched
    report = DrainReport()
    with Session(engine) as session:
        pending = list(session.exec(select(CheckinBatch.id).where(CheckinBatch.status == "pending")
                                    .order_by(CheckinBatch.created_at)))  # type: ignore[arg-type]
    for batch_id in pending:
        reconcile_batch(runtime, batch_id, report, stale_after=stale_after, confirmations=confirmations)
    # The worker also keeps the operator's nonces contiguous (a gap would hold every later batch back).
    report.nonce_gap = sending.fill_nonce_gap(chain, engine, runtime.operator(), grace=stale_after)
    with Session(engine) as session:  # after reconciling, which may have queued some again
        queued = select(Admission.event_id).where(Admission.chain_status == "queued")
        events = list(session.exec(select(Event.id, Event.collection_address)
                                   .where(Event.id.in_(queued))))  # type: ignore[attr-defined]
    for event_id, collection in events:
        if event_id in hold:
            continue
        while (claim := _claim(engine, event_id, collection, max_batch)) is not None:
            if _send(runtime, claim, report, receipt_timeout=receipt_timeout, confirmations=confirmations) != "done":
                break
    return report


def _claim(engine: Engine, event_id: uuid.UUID, collection: str, max_batch: int) -> _Claim | None:
    """Take up to `max_batch` queued admissions of the event, oldest first, under a new pending batch."""
    with Session(engine) as session:
        batch = CheckinBatch(event_id=event_id, token_ids="[]")
        session.add(batch)
        session.flush()  # SQLite: this INSERT takes the write lock until the commit
        ids = list(session.exec(select(Admission.id)
                                .where(Admission.event_id == event_id, Admission.chain_status == "queued")
                                .order_by(Admission.admitted_at, Admission.id)  # type: ignore[arg-type]
                                .limit(max_batch).with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(ADMISSIONS)
                            .where(ADMISSIONS.c.id.in_(ids), ADMISSIONS.c.chain_status == "queued")
                            .values(chain_status="sent", batch_id=batch.id))
        token_ids = sorted(session.exec(select(Admission.token_id).where(Admission.batch_id == batch.id)))
        if not token_ids:
            session.rollback()
            return None
        batch.token_ids = json.dumps(token_ids)
        session.add(batch)
        batch_id = batch.id
        session.commit()
    return _Claim(batch_id, event_id, collection, token_ids)


def _send(runtime: Runtime, claim: _Claim, report: DrainReport, *, receipt_timeout: float,
          confirmations: int) -> str:
    """Prepare, record, broadcast and wait for one claimed batch: 'done', 'failed', 'refused', 'cancelled' or
    'pending'."""
    chain, engine, operator = runtime.chain(), runtime.engine, runtime.operator()
    collection = tk.Collection(chain, claim.collection)
    call = collection.contract.functions.checkIn(claim.token_ids)
    try:
        prepared = sending.prepare(chain, call, operator, engine)
    except Exception as error:
        if isinstance(error, tk.errors.EventIsCancelled):
            report.cancelled += _cancel(engine, claim.batch_id)
            log.warning("event %s is cancelled on chain: its queued admissions will not be checked in",
                        claim.event_id)
            return "cancelled"
        _give_back(engine, claim.batch_id, error=None)  # nothing was sent
        if isinstance(error, tk.ContractRevert | tk.TransactionFailed):
            report.refused[claim.event_id] = type(error).__name__
            log.warning("checkIn refused for event %s: %s", claim.event_id, error)
            return "refused"
        raise
    nonce = prepared.tx["nonce"]
    unsent = (BATCHES.c.id == claim.batch_id) & (BATCHES.c.status == "pending") & BATCHES.c.tx_hash.is_(None)
    try:
        with engine.begin() as conn:  # on record before it exists anywhere else
            recorded = conn.execute(update(BATCHES).where(unsent)
                                    .values(tx_hash=prepared.tx_hash, raw_tx=prepared.raw_tx)).rowcount == 1
    except Exception:
        sending.release_nonce(engine, chain.chain_id, operator.address, nonce)
        raise
    if not recorded:  # a reconciler gave the batch back while it was being prepared
        sending.release_nonce(engine, chain.chain_id, operator.address, nonce)
        return "failed"
    sending.broadcast(chain, prepared.raw_tx, operator.address)
    report.sent += 1
    receipt = _wait(chain, prepared.tx_hash, receipt_timeout)
    if receipt is None or not _deep_enough(chain, receipt, confirmations):
        report.pending += 1
        return "pending"
    return _settle(engine, collection, claim.batch_id, receipt, report)


def _deep_enough(chain: tk.Chain, receipt: Any, confirmations: int) -> bool:
    return confirmations == 0 or chain.w3.eth.block_number - receipt["blockNumber"] >= confirmations


def _wait(chain: tk.Chain, tx_hash: str, timeout: float) -> Any | None:
    """The receipt, or None if the transaction is not mined within `timeout` seconds."""
    try:
        return chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)  # type: ignore[arg-type]
    except TimeExhausted:
        return None


# ---- outcomes (each a claim on the pending batch, with the admissions it moves)
def _settle(engine: Engine, collection: tk.Collection, batch_id: uuid.UUID, receipt: Any,
            report: DrainReport) -> str:
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
        claimed = conn.execute(update(BATCHES).where(BATCHES.c.id == batch_id, BATCHES.c.status == "pending")
                               .values(status="done", done_at=utcnow(), error=note)).rowcount == 1
        if not claimed:
            return "done"  # finished by another drainer
        moved = conn.execute(update(ADMISSIONS).where(ADMISSIONS.c.batch_id == batch_id,
                                                      ADMISSIONS.c.chain_status == "sent")
                             .values(chain_status="done")).rowcount
    report.done += 1
    report.checked_in += moved
    report.skipped += len(skipped)
    report.gas_used += receipt["gasUsed"]
    return "done"


def _give_back(engine: Engine, batch_id: uuid.UUID, *, error: str | None,
               report: DrainReport | None = None) -> bool:
    """Queue the batch's admissions again. A batch never sent (`error` None) is deleted; one whose transaction
    was sent stays on record as `failed` with `error`. False if the batch was no longer pending."""
    unsent = error is None
    condition = (BATCHES.c.id == batch_id) & (BATCHES.c.status == "pending")
    if unsent:
        condition &= BATCHES.c.tx_hash.is_(None)
    with engine.begin() as conn:
        if conn.execute(update(BATCHES).where(condition).values(status="failed", error=error)).rowcount != 1:
            return False
        moved = conn.execute(update(ADMISSIONS).where(ADMISSIONS.c.batch_id == batch_id,
                                                      ADMISSIONS.c.chain_status == "sent")
                             .values(chain_status="queued", batch_id=None)).rowcount
        if unsent:
            conn.execute(delete(BATCHES).where(BATCHES.c.id == batch_id))
    if report is not None:
        report.requeued += moved
    return True


def _cancel(engine: Engine, batch_id: uuid.UUID) -> int:
    """Take the unsent batch's admissions out of the queue for good (their event is cancelled); how many."""
    with engine.begin() as conn:
        moved = conn.execute(update(ADMISSIONS).where(ADMISSIONS.c.batch_id == batch_id,
                                                      ADMISSIONS.c.chain_status == "sent")
                             .values(chain_status="cancelled", batch_id=None)).rowcount
        conn.execute(delete(BATCHES).where(BATCHES.c.id == batch_id, BATCHES.c.tx_hash.is_(None)))
    return moved


# ---- reconciling
def _age(created: datetime) -> timedelta:
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - created


def reconcile_batch(runtime: Runtime, batch_id: uuid.UUID, report: DrainReport, *, stale_after: float = 60.0,
                    wait_seconds: float = 5.0, confirmations: int = 0) -> str:
    """Decide one pending batch from the chain: 'done', 'failed' (queued again) or 'pending' (undecided)."""
    engine, chain = runtime.engine, runtime.chain()
    with Session(engine) as session:
        batch = session.get(CheckinBatch, batch_id)
        event = session.get(Event, batch.event_id) if batch is not None else None
    if batch is None or event is None or batch.status != "pending":
        return batch.status if batch is not None else "failed"
    if batch.tx_hash is None or batch.raw_tx is None:
        if _age(batch.created_at) < timedelta(seconds=stale_after):
            report.pending += 1  # maybe still being prepared by another drainer
            return "pending"
        _give_back(engine, batch.id, error=None, report=report)
        return "failed"
    collection = tk.Collection(chain, event.collection_address)
    receipt = sending.receipt_of(chain, batch.tx_hash)
    if receipt is None:
        sender, nonce = sending.sender_and_nonce(batch.raw_tx)
        if chain.w3.eth.get_transaction_count(sender, "latest") > nonce:  # type: ignore[arg-type]
            receipt = sending.receipt_of(chain, batch.tx_hash)  # mined just now, or another took the nonce
            if receipt is None:
                _give_back(engine, batch.id, error=f"dropped: nonce {nonce} used by another transaction",
                           report=report)
                return "failed"
        elif sending.rebroadcast(chain, batch.raw_tx):
            receipt = _wait(chain, batch.tx_hash, wait_seconds)
        else:
            log.warning("the node refuses check-in batch %s (%s) again; it stays pending", batch.id,
                        batch.tx_hash)
    if receipt is None or not _deep_enough(chain, receipt, confirmations):
        report.pending += 1
        return "pending"
    return _settle(engine, collection, batch.id, receipt, report)


# ---- the runner
class CheckinQueue:
    """`drain_once` in a loop: every `poll_seconds`; after a failure (node down) with exponential backoff
    up to `max_backoff`; an event whose checkIn the contract refuses (no GATE_ROLE, cancelled) is held back
    likewise."""

    def __init__(self, runtime: Runtime, *, batch_size: int = 100, poll_seconds: float = 1.0,
                 stale_after: float = 60.0, max_backoff: float = 30.0, confirmations: int = 0):
        self.runtime = runtime
        self.confirmations = confirmations
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after
        self.max_backoff = max_backoff

    def _backoff(self, failures: int) -> float:
        return min(self.poll_seconds * 2 ** min(failures, 10), self.max_backoff)

    def run_forever(self, stop: threading.Event) -> None:
        failures = 0
        held: dict[uuid.UUID, tuple[float, int]] = {}  # event -> (held until, refusals in a row)
        while not stop.is_set():
            now = time.monotonic()
            hold = {event_id for event_id, (until, _) in held.items() if until > now}
            try:
                report = drain_once(self.runtime, max_batch=self.batch_size, stale_after=self.stale_after,
                                    hold=hold, confirmations=self.confirmations)
            except Exception as error:  # noqa: BLE001 - a poller survives the node and the database blinking
                failures += 1
                if failures == 1:
                    log.exception("check-in queue: drain failed")
                else:
                    log.warning("check-in queue: drain failed (%d in a row): %s", failures, error)
            else:
                failures = 0
                for event_id in [e for e in held if e not in hold and e not in report.refused]:
                    del held[event_id]
                for event_id in report.refused:
                    strikes = held.get(event_id, (0.0, 0))[1] + 1
                    held[event_id] = (now + self._backoff(strikes), strikes)
                if report.checked_in or report.requeued or report.cancelled:
                    log.info("check-in queue: %s", report)
            stop.wait(self._backoff(failures) if failures else self.poll_seconds)


@contextmanager
def running(runtime: Runtime) -> Iterator[CheckinQueue | None]:
    """With `settings.checkin_queue_enabled`, the queue's thread for the duration of the block."""
    settings = runtime.settings
    if not settings.checkin_queue_enabled:
        yield None
        return
    queue = CheckinQueue(runtime, batch_size=settings.checkin_batch_size,
                         poll_seconds=settings.checkin_poll_seconds, confirmations=settings.checkin_confirmations)
    stop = threading.Event()
    thread = threading.Thread(target=queue.run_forever, args=(stop,), name="checkin-queue", daemon=True)
    thread.start()
    try:
        yield queue
    finally:
        stop.set()
        thread.join(timeout=10)
