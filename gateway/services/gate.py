"""The gate (docs/gate.md): device keys bound to tickets, checking rotating codes, the check-in, offline
snapshots and the sync of offline scans.

`admit` is the only write path for check-ins, online scans and synced offline scans alike: one
INSERT ... ON CONFLICT DO NOTHING on gate_admissions' unique `ticket_id`, committed at once. Of any number
of simultaneous scans of one ticket, in any number of processes, exactly one inserts the row; the others
find it and are refused (`already_checked_in`), or, for offline scans, become a recorded conflict.

Checking a code (`verify_code`) is one indexed query: the ticket with its tier, holder, active device key,
admission and indexed chain state, joined by primary and unique keys. A process reuses two answers for
`gate_cache_seconds` (default 2 s): whether an event is cancelled (from the indexer's chain_events; it would
otherwise cost a scan of the collection's events) and a gate key's authentication (a revoked key works at
most that long). Holders, keys and admissions are read fresh on every check, so a moved ticket stops
admitting at once.

Who holds a ticket: the fan account in `tickets.owner_fan_id` (the gateway's own record, followed by the
indexer); else the indexed on-chain owner (`indexed_tokens.owner`, self-custody wallets). A ticket the
indexer has not seen yet has no known holder: its key's binding (made against the chain) stands.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from sqlalchemy import Engine, String, and_, bindparam, cast, func, select, update
from sqlmodel import Session, col
from sqlmodel import select as orm_select

import ticketkit as tk

from .. import db
from ..core import codes, gate_rules
from ..core.config import Settings
from ..core.gate_rules import ENTRY, EXIT, GateReason, Rules, TicketState
from ..core.security import hash_token
from ..errors import Forbidden, NotFound, Unauthorized, Unprocessable
from ..indexer.models import ChainEvent, IndexedToken
from ..models import (
    Admission,
    AdmissionRef,
    ApiKey,
    DeviceKey,
    DeviceMessage,
    Event,
    EventDoor,
    EventDoorPublic,
    EventDoorSet,
    Fan,
    GateConflict,
    GateConflictPublic,
    GateEntry,
    GateRefusal,
    OfflineScan,
    OfflineScanResult,
    QueueState,
    Role,
    Ticket,
    TicketDoor,
    TicketPlace,
    TicketPlaceBase,
    TicketPlacePublic,
    Tier,
    as_utc,
    utcnow,
)
from ..runtime import Runtime

# Refusal reasons, in the order they are checked: the one rule list (gateway/core/gate_rules.py,
# docs/gate.md).
REASONS = gate_rules.ORDER
_ENTRY_RULES = REASONS[
    REASONS.index(GateReason.not_owner) + 1 :
]  # what a sync decides on the ticket's state now
MESSAGE_TTL = 600  # seconds a self-custody binding message stays valid
MAX_MESSAGE_TTL = 3600  # an expiry further ahead than this is refused

T = db.table_of(Ticket)
F = db.table_of(Fan)
TR = db.table_of(Tier)
IT = db.table_of(IndexedToken)
DK = db.table_of(DeviceKey)
A = db.table_of(Admission)
K = db.table_of(ApiKey)
C = db.table_of(GateConflict)
R = db.table_of(GateRefusal)
CE = db.table_of(ChainEvent)
ED = db.table_of(EventDoor)
GE = db.table_of(GateEntry)

# A ticket with what the gate decides on: its tier, its holder (account or chain), its admission. Every join
# is on a primary or unique key. Shared by the live check and the offline snapshot.
_TICKET_STATE = (
    T.outerjoin(TR, and_(TR.c.event_id == T.c.event_id, TR.c.tier_id == T.c.tier_id))
    .outerjoin(F, F.c.id == T.c.owner_fan_id)
    .outerjoin(
        IT,
        and_(
            IT.c.chain_id == T.c.chain_id,
            IT.c.contract == T.c.contract,
            IT.c.token_id == cast(T.c.token_id, String),
        ),
    )
    .outerjoin(A, A.c.ticket_id == T.c.id)
)

# The whole check in one query (device keys: indexed ticket_id).
_LOOKUP = (
    select(
        T.c.id,
        T.c.event_id,
        T.c.chain_id,
        T.c.contract,
        T.c.token_id,
        T.c.tier_id,
        T.c.owner_fan_id,
        TR.c.name.label("tier_name"),
        F.c.address.label("fan_address"),
        IT.c.owner.label("chain_owner"),
        IT.c.used.label("chain_used"),
        IT.c.burned.label("chain_burned"),
        DK.c.public_key,
        DK.c.holder.label("key_holder"),
        A.c.id.label("admission_id"),
        A.c.gate_key_id.label("admission_gate"),
        A.c.nonce.label("admission_nonce"),
        A.c.scanned_at.label("admission_scanned_at"),
    )
    .select_from(_TICKET_STATE.outerjoin(DK, and_(DK.c.ticket_id == T.c.id, DK.c.revoked_at.is_(None))))
    .where(T.c.id == bindparam("ticket_id"))
    .order_by(DK.c.created_at.desc())
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A gate's answer. `admit` False: `reason` is one of REASONS. Ticket fields once the ticket is known."""

    admit: bool
    reason: GateReason | None = None
    ticket_id: uuid.UUID | None = None
    token_id: int | None = None
    tier_id: int | None = None
    tier_name: str | None = None

    def refuse(self, reason: GateReason) -> Verdict:
        return replace(self, admit=False, reason=reason)


@dataclass(frozen=True, slots=True)
class _Checked:
    verdict: Verdict
    row: Any = None  # the lookup row, once the ticket was found
    state: TicketState | None = None
    rules: Rules | None = None


# ---- small helpers
def _insert(session: Session, table: Any) -> Any:
    return db.insert(session.get_bind().dialect.name, table)


@contextmanager
def _writing(session: Session) -> Iterator[None]:
    """Around a short write transaction: on SQLite, the gateway's writers in every process take turns at an OS
    lock (db.sqlite_writer) instead of polling the database's write lock, whose busy handler sleeps up to
    100 ms between tries - what the slowest check-ins used to wait."""
    bind = session.get_bind()
    with db.sqlite_writer(bind if isinstance(bind, Engine) else bind.engine):
        yield


def _same_address(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


_CANCELLED = (
    select(CE.c.id)
    .where(
        CE.c.chain_id == bindparam("chain_id"),
        CE.c.contract == bindparam("contract"),
        CE.c.token_id.is_(None),
        CE.c.name == "EventCancelled",
    )
    .limit(1)
)
_cancel_cache: dict[uuid.UUID, tuple[float, bool]] = {}
_cancel_lock = threading.Lock()


def _event_cancelled(session: Session, event_id: uuid.UUID, chain_id: int, contract: str, ttl: float) -> bool:
    """Whether the indexer has seen the collection's EventCancelled; reused for `ttl` seconds per process."""
    now = time.monotonic()
    cached = _cancel_cache.get(event_id)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    params = {"chain_id": chain_id, "contract": contract}
    found = session.connection().execute(_CANCELLED, params).first() is not None
    with _cancel_lock:
        _cancel_cache[event_id] = (now, found)
    return found


def forget_cancellations() -> None:
    """Drop the per-process caches: cancellations and gate keys (tests)."""
    with _cancel_lock:
        _cancel_cache.clear()
    _key_cache.clear()
    _rules_cache.clear()


# ---- an event's rules (entry policy, days, time zone, offline policy), reused for gate_cache_seconds
_rules_cache: dict[uuid.UUID, tuple[float, Rules]] = {}


def _rules_of(door: Any, settings: Settings) -> Rules:
    base = Rules(window_seconds=settings.gate_window_seconds)
    if door is None:
        return base
    return replace(
        base,
        entry_policy=door.entry_policy,
        days=tuple(json.loads(door.entry_days)),
        timezone=door.timezone,
        offline_unlisted=door.offline_unlisted,
        tier_policies=tuple(
            sorted((int(tier), policy) for tier, policy in json.loads(door.tier_policies).items())
        ),
    )


def event_rules(session: Session, settings: Settings, event_id: uuid.UUID) -> Rules:
    """The event's gate rules; a change reaches every process within `gate_cache_seconds`."""
    now = time.monotonic()
    cached = _rules_cache.get(event_id)
    if cached is not None and now - cached[0] < settings.gate_cache_seconds:
        return cached[1]
    door = session.connection().execute(select(ED).where(ED.c.event_id == event_id)).first()
    rules = _rules_of(door, settings)
    _rules_cache[event_id] = (now, rules)
    return rules


# ---- gate keys, cached per process
@dataclass(frozen=True, slots=True)
class GateKeyRef:
    """What the gate functions need of a gate API key."""

    id: uuid.UUID
    event_id: uuid.UUID
    label: str | None


GateKeyLike = GateKeyRef | ApiKey  # the functions below read only `id` and `event_id`


def _event_of(gate_key: GateKeyLike) -> uuid.UUID:
    """A gate key's event: every gate key has one (organiser keys, which have none, never reach the gate)."""
    assert gate_key.event_id is not None
    return gate_key.event_id


_GATE_KEY = select(K.c.id, K.c.event_id, K.c.label, K.c.role).where(
    K.c.key_hash == bindparam("key_hash"), K.c.revoked_at.is_(None)
)
_key_cache: dict[str, tuple[float, GateKeyRef]] = {}


def cached_gate_key(token: str, ttl: float) -> GateKeyRef | None:
    """A gate key this process authenticated less than `ttl` seconds ago (no I/O), else None."""
    cached = _key_cache.get(hash_token(token))
    if cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1]
    return None


def authenticate_gate_key(engine: Engine, token: str) -> GateKeyRef:
    """Look a gate key up (401 unknown or revoked, 403 `gate_key_required` for another kind) and cache it.

    A revoked key keeps working in a process that authenticated it for at most `gate_cache_seconds`.
    """
    key_hash = hash_token(token)
    with engine.connect() as conn:
        row = conn.execute(_GATE_KEY, {"key_hash": key_hash}).first()
    if row is None:
        raise Unauthorized("unknown or revoked gate API key")
    if row.role != Role.gate or row.event_id is None:
        raise Forbidden("this endpoint needs a gate API key", code="gate_key_required")
    key = GateKeyRef(row.id, row.event_id, row.label)
    if len(_key_cache) > 10_000:
        _key_cache.clear()
    _key_cache[key_hash] = (time.monotonic(), key)
    return key


# ---- checking a code
def _entry_state(session: Session, row: Any, rules: Rules) -> tuple[int, int, frozenset[str]]:
    """(entries, exits, days entered) of a ticket: its admission is the first entry; gate_entries the rest."""
    entries = 1 if row.admission_id is not None else 0
    policy = rules.policy_for(row.tier_id)
    if policy == "single" or row.admission_id is None and not row.chain_used:
        return entries, 0, frozenset()
    exits, days = 0, set()
    if row.admission_id is not None and policy == "days":
        days.add(gate_rules.day_of(as_utc(row.admission_scanned_at).timestamp(), rules.timezone))
    for slot, direction in session.connection().execute(
        select(GE.c.slot, GE.c.direction).where(GE.c.ticket_id == row.id)
    ):
        if direction == EXIT:
            exits += 1
        else:
            entries += 1
            if slot.startswith("day:"):
                days.add(slot[4:])
    return entries, exits, frozenset(days)


def _ticket_state(
    session: Session,
    settings: Settings,
    row: Any,
    event_id: uuid.UUID,
    rules: Rules,
    keys: tuple[str, ...] | None = None,
) -> TicketState:
    if row.event_id != event_id:
        return TicketState(row.id, event_matches=False)
    holder = row.fan_address or row.chain_owner  # None: not indexed yet, the binding's check stands
    entries, exits, days = _entry_state(session, row, rules)
    return TicketState(
        row.id,
        tier_id=row.tier_id,
        device_keys=(row.public_key,) if keys is None and row.public_key else (keys or ()),
        cancelled=bool(row.chain_burned)
        or _event_cancelled(session, event_id, row.chain_id, row.contract, settings.gate_cache_seconds),
        holder_changed=holder is not None
        and row.public_key is not None
        and not _same_address(holder, row.key_holder),
        checked_in_on_chain=bool(row.chain_used),
        entries=entries,
        exits=exits,
        days_entered=days,
    )


def _check(
    session: Session,
    settings: Settings,
    event_id: uuid.UUID,
    text: str,
    unix_time: float,
    direction: str = ENTRY,
) -> _Checked:
    """The rule list (gate_rules.decide) over the ticket's state read in one query (two with
    re-entry/days)."""
    rules = event_rules(session, settings, event_id)
    found: list[Any] = []

    def lookup(ticket_id: uuid.UUID) -> TicketState | None:
        row = session.connection().execute(_LOOKUP, {"ticket_id": ticket_id}).first()
        if row is None:
            return None
        found.append(row)
        return _ticket_state(session, settings, row, event_id, rules)

    decision = gate_rules.decide(text, now=unix_time, rules=rules, lookup=lookup, direction=direction)
    if not found:
        return _Checked(Verdict(False, decision.reason))
    row = found[0]
    if decision.reason == GateReason.wrong_event:
        return _Checked(Verdict(False, GateReason.wrong_event, ticket_id=row.id), row)
    return _Checked(
        Verdict(decision.admit, decision.reason, row.id, row.token_id, row.tier_id, row.tier_name),
        row,
        decision.ticket,
        rules,
    )


def verify_code(
    *,
    session: Session,
    settings: Settings,
    gate_key: GateKeyLike,
    code: str,
    unix_time: float | None = None,
    direction: str = ENTRY,
) -> Verdict:
    """Would this code admit (or let out) at this gate now? Reads only (one query)."""
    unix_time = time.time() if unix_time is None else unix_time
    return _check(session, settings, _event_of(gate_key), code, unix_time, direction).verdict


# ---- the check-in
# The writes as statements whose every value is a parameter, made once per dialect and set of columns: keyed
# for SQLAlchemy's compiled cache once, not on every scan (on SQLite, inside the section where the database's
# writers take turns). RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT inserts.
@lru_cache(maxsize=8)
def _admission_insert(dialect: str, columns: tuple[str, ...]) -> Any:
    return (
        db.insert(dialect, A)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=["ticket_id"])
        .returning(A.c.id)
    )


@lru_cache(maxsize=8)
def _refusal_insert(columns: tuple[str, ...]) -> Any:
    return R.insert().values({name: bindparam(name) for name in columns})


def admit(
    session: Session,
    *,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    token_id: int,
    gate_key_id: uuid.UUID,
    device: str | None,
    source: str,
    scanned_at: datetime,
    nonce: str | None = None,
) -> tuple[bool, Any]:
    """THE check-in write: insert the ticket's admission unless it has one, atomically, and commit.

    Returns (True, the new row) for the one caller that admitted the ticket, else (False, the admission on
    record); rows have the table's columns as attributes. The row is queued for the chain (`chain_status`
    queued).
    """
    values = {
        "id": uuid.uuid4(),
        "event_id": event_id,
        "ticket_id": ticket_id,
        "token_id": token_id,
        "gate_key_id": gate_key_id,
        "device": device,
        "source": source,
        "nonce": nonce,
        "scanned_at": scanned_at,
        "admitted_at": utcnow(),
        "chain_status": QueueState.queued,
        "batch_id": None,
    }
    statement = _admission_insert(session.get_bind().dialect.name, tuple(values))
    with _writing(session):
        inserted = session.connection().execute(statement, values).first() is not None
        session.commit()
    if inserted:
        return True, SimpleNamespace(**values)
    return False, session.connection().execute(select(A).where(A.c.ticket_id == ticket_id)).one()


def _record_refusal(
    session: Session,
    *,
    event_id: uuid.UUID,
    gate_key_id: uuid.UUID,
    verdict: Verdict,
    device: str | None,
    source: str,
    scanned_at: datetime,
) -> None:
    values = {
        "id": uuid.uuid4(),
        "event_id": event_id,
        "gate_key_id": gate_key_id,
        "ticket_id": verdict.ticket_id,
        "reason": verdict.reason,
        "device": device,
        "source": source,
        "scanned_at": scanned_at,
        "created_at": utcnow(),
    }
    statement = _refusal_insert(tuple(values))
    with _writing(session):
        session.connection().execute(statement, values)
        session.commit()


@lru_cache(maxsize=8)
def _entry_insert(dialect: str, columns: tuple[str, ...]) -> Any:
    return (
        db.insert(dialect, GE)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=["ticket_id", "slot"])
        .returning(GE.c.id)
    )


def _slot(rules: Rules, state: TicketState, direction: str, scanned_at: datetime) -> str:
    if direction == EXIT:
        return f"exit:{state.exits + 1}"
    if rules.policy_for(state.tier_id) == "days":
        return f"day:{gate_rules.day_of(scanned_at.timestamp(), rules.timezone)}"
    return f"entry:{max(state.entries, 1 if state.checked_in_on_chain else 0) + 1}"


def enter(
    session: Session,
    *,
    checked: _Checked,
    event_id: uuid.UUID,
    gate_key_id: uuid.UUID,
    device: str | None,
    source: str,
    scanned_at: datetime,
    nonce: str | None,
    direction: str = ENTRY,
) -> tuple[bool, Any]:
    """THE entry write, for an entry or exit the rules allowed. A ticket's first entry is its check-in
    (`admit`: on chain once, the badge once); later entries and exits (re-entry, day passes) are gate records
    only, one INSERT ... ON CONFLICT DO NOTHING on gate_entries' unique (ticket, slot): of simultaneous scans
    for one entry exactly one inserts. Returns (True, the new row) or (False, the row that holds the
    entry)."""
    row, state = checked.row, checked.state
    if direction == ENTRY and row.admission_id is None and not row.chain_used:
        return admit(
            session,
            event_id=event_id,
            ticket_id=row.id,
            token_id=row.token_id,
            gate_key_id=gate_key_id,
            device=device,
            source=source,
            scanned_at=scanned_at,
            nonce=nonce,
        )
    # a later entry or an exit: the rules ran over the ticket's state, so both are known
    assert checked.rules is not None and state is not None
    values = {
        "id": uuid.uuid4(),
        "event_id": event_id,
        "ticket_id": row.id,
        "slot": _slot(checked.rules, state, direction, scanned_at),
        "direction": direction,
        "gate_key_id": gate_key_id,
        "device": device,
        "source": source,
        "nonce": nonce,
        "scanned_at": scanned_at,
        "created_at": utcnow(),
    }
    statement = _entry_insert(session.get_bind().dialect.name, tuple(values))
    with _writing(session):
        inserted = session.connection().execute(statement, values).first() is not None
        session.commit()
    if inserted:
        return True, SimpleNamespace(**values)
    return False, session.connection().execute(
        select(GE).where(GE.c.ticket_id == row.id, GE.c.slot == values["slot"])
    ).one()


def _decided_here(session: Session, row: Any, gate_key_id: uuid.UUID, nonce: str) -> bool:
    """Whether this gate key's decision `nonce` already admitted (or let out) the ticket: a retry."""
    if row.admission_nonce == nonce and row.admission_gate == gate_key_id:
        return True
    return (
        session.connection()
        .execute(
            select(GE.c.id)
            .where(GE.c.ticket_id == row.id, GE.c.nonce == nonce, GE.c.gate_key_id == gate_key_id)
            .limit(1)
        )
        .first()
        is not None
    )


def scan(
    *,
    session: Session,
    settings: Settings,
    gate_key: GateKeyLike,
    code: str,
    device: str | None = None,
    nonce: str | None = None,
    unix_time: float | None = None,
    direction: str = ENTRY,
) -> Verdict:
    """Check a code and, if the rules allow, record the entry (`enter`: the first is the check-in) or the
    exit. Refusals are recorded with their reason.

    A repeated `nonce` from the same gate key whose scan admitted the ticket is answered `admit` again
    (a retry after a lost response), without a second admission.
    """
    unix_time = time.time() if unix_time is None else unix_time
    scanned_at = datetime.fromtimestamp(unix_time, UTC)
    event_id = _event_of(gate_key)
    checked = _check(session, settings, event_id, code, unix_time, direction)
    verdict = checked.verdict
    if (
        verdict.reason in (GateReason.already_checked_in, GateReason.not_inside)
        and nonce is not None
        and _decided_here(session, checked.row, gate_key.id, nonce)
    ):
        return replace(verdict, admit=True, reason=None)
    if verdict.admit:
        entered, existing = enter(
            session,
            checked=checked,
            event_id=event_id,
            gate_key_id=gate_key.id,
            device=device,
            source="online",
            scanned_at=scanned_at,
            nonce=nonce,
            direction=direction,
        )
        if entered or (nonce is not None and existing.nonce == nonce and existing.gate_key_id == gate_key.id):
            return verdict
        verdict = verdict.refuse(
            GateReason.already_checked_in if direction == ENTRY else GateReason.not_inside
        )
    _record_refusal(
        session,
        event_id=event_id,
        gate_key_id=gate_key.id,
        verdict=verdict,
        device=device,
        source="online",
        scanned_at=scanned_at,
    )
    return verdict


# ---- offline: snapshots and sync
@lru_cache(maxsize=8)
def _signing_key(configured: str | None, secret: str) -> ec.EllipticCurvePrivateKey:
    return codes.load_private_key(configured) if configured else codes.derive_signing_key(secret)


def signing_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The gateway's snapshot key: `gate_signing_key`, else derived from `key_encryption_secret`."""
    configured = settings.gate_signing_key.get_secret_value() if settings.gate_signing_key else None
    return _signing_key(configured, settings.key_encryption_secret.get_secret_value())


def snapshot_public_key(settings: Settings) -> str:
    return codes.public_key_text(signing_key(settings))


def _entry_states(
    conn: Any, event_id: uuid.UUID, ticket_ids: list[uuid.UUID] | None
) -> dict[uuid.UUID, list]:
    """Per ticket with later entries or exits: [entries after the first, exits, days entered] (one query)."""
    states: dict[uuid.UUID, list] = {}
    query = select(GE.c.ticket_id, GE.c.slot, GE.c.direction).where(GE.c.event_id == event_id)
    if ticket_ids is not None:
        query = query.where(GE.c.ticket_id.in_(ticket_ids))
    for ticket_id, slot, direction in conn.execute(query):
        state = states.setdefault(ticket_id, [0, 0, []])
        if direction == EXIT:
            state[1] += 1
        else:
            state[0] += 1
            if slot.startswith("day:"):
                state[2].append(slot[4:])
    return states


DELTA_OVERLAP_S = 10.0  # a delta repeats the changes of this long before its cursor (a write committed late)
DELTA_MAX = 5000  # more changed tickets than this: the answer is a full snapshot


class _Cursor(SimpleNamespace):
    at: float  # unix seconds (the gateway's clock) when the snapshot was read
    block: int  # the newest indexed block of the collection's chain events then


def _cursor_text(at: float, block: int) -> str:
    return f"{at:.3f}:{block}"


def _parse_cursor(text: str) -> _Cursor:
    try:
        at, block = text.split(":")
        cursor = _Cursor(at=float(at), block=int(block))
    except ValueError:
        raise Unprocessable(
            "since is a snapshot's cursor (unix seconds:block), as the snapshot gave it",
            code="invalid_cursor",
        ) from None
    if not (0 <= cursor.at <= time.time() + 60 and 0 <= cursor.block < 2**63):
        raise Unprocessable("since is not a cursor this gateway gave", code="invalid_cursor")
    return cursor


def _changed_tickets(conn: Any, event: Event, since: _Cursor) -> set[uuid.UUID]:
    """The event's tickets whose gate state may have changed since the cursor: keys bound or revoked,
    admissions, entries and exits (by their timestamps, less DELTA_OVERLAP_S), and tokens with chain events
    after the cursor's block (mints, moves, check-ins, refunds; the indexer commits whole blocks)."""
    after = datetime.fromtimestamp(since.at - DELTA_OVERLAP_S, UTC)
    # Each on an indexed timestamp (or block), across events (filtered here: a condition on the event would
    # let the planner walk the event's tickets instead); a new ticket arrives with its mint's chain event or
    # its key.
    queries = [
        select(DK.c.ticket_id, T.c.event_id)
        .select_from(DK.join(T, T.c.id == DK.c.ticket_id))
        .where(DK.c.created_at > after),
        select(DK.c.ticket_id, T.c.event_id)
        .select_from(DK.join(T, T.c.id == DK.c.ticket_id))
        .where(DK.c.revoked_at > after),
        select(A.c.ticket_id, A.c.event_id).where(A.c.admitted_at > after),
        select(GE.c.ticket_id, GE.c.event_id).where(GE.c.created_at > after),
        select(T.c.id, T.c.event_id)
        .select_from(
            CE.join(
                T,
                and_(
                    T.c.chain_id == CE.c.chain_id,
                    T.c.contract == CE.c.contract,
                    cast(T.c.token_id, String) == CE.c.token_id,
                ),
            )
        )
        .where(
            CE.c.chain_id == event.chain_id,
            CE.c.contract == event.collection_address,
            CE.c.block_number > since.block,
            CE.c.token_id.is_not(None),
        ),
    ]
    changed: set[uuid.UUID] = set()
    for query in queries:
        changed.update(ticket_id for ticket_id, event_id in conn.execute(query) if event_id == event.id)
    return changed


def snapshot(
    *, session: Session, settings: Settings, gate_key: GateKeyLike, since: str | None = None
) -> tuple[str, str, str]:
    """The event's gate state as JSON text, its signature and the public key: (payload, signature, key).

    It carries the rules (gate_rules.Rules.as_json: their order and parameters), each ticket's state (with
    re-entry or day passes its entries, exits and days entered) and a `cursor`. With `since` (a cursor) it is
    a delta (`kind` delta): only the tickets changed since then, whole, and the keys revoked since; more than
    DELTA_MAX changes and it is a full snapshot (`kind` full) again."""
    event = session.get(Event, gate_key.event_id)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    cursor = _parse_cursor(since) if since is not None else None
    read_at = time.time()
    rules = event_rules(session, settings, event.id)
    conn = session.connection()
    block = (
        conn.execute(
            select(func.max(CE.c.block_number)).where(
                CE.c.chain_id == event.chain_id, CE.c.contract == event.collection_address
            )
        ).scalar()
        or 0
    )
    ids: list[uuid.UUID] | None = None
    if cursor is not None:
        changed = _changed_tickets(conn, event, cursor)
        ids = sorted(changed) if len(changed) <= DELTA_MAX else None
    delta = ids is not None
    query = (
        select(
            T.c.id,
            T.c.token_id,
            T.c.tier_id,
            TR.c.name.label("tier_name"),
            F.c.address.label("fan_address"),
            IT.c.owner.label("chain_owner"),
            IT.c.used.label("chain_used"),
            IT.c.burned.label("chain_burned"),
            A.c.id.is_not(None).label("admitted"),
            A.c.scanned_at.label("admission_scanned_at"),
            DK.c.public_key,
            DK.c.holder.label("key_holder"),
        )
        .select_from(_TICKET_STATE.outerjoin(DK, and_(DK.c.ticket_id == T.c.id, DK.c.revoked_at.is_(None))))
        .order_by(T.c.token_id, DK.c.created_at)
    )
    revoked_query = (
        select(DK.c.ticket_id, DK.c.public_key, DK.c.revoked_at)
        .select_from(DK.join(T, T.c.id == DK.c.ticket_id))
        .where(T.c.event_id == event.id, DK.c.revoked_at.is_not(None))
        .order_by(DK.c.revoked_at)
    )
    # A delta's tickets by primary key (they are the event's): a condition on the event would walk all of
    # them.
    query = query.where(T.c.id.in_(ids)) if ids is not None else query.where(T.c.event_id == event.id)
    if ids is not None and cursor is not None:  # a delta (it has a cursor)
        revoked_query = (
            select(DK.c.ticket_id, DK.c.public_key, DK.c.revoked_at)
            .where(
                DK.c.revoked_at > datetime.fromtimestamp(cursor.at - DELTA_OVERLAP_S, UTC),
                DK.c.ticket_id.in_(ids),
            )
            .order_by(DK.c.revoked_at)
        )
    rows = conn.execute(query).all() if not delta or ids else []
    revoked = [
        {
            "ticket_id": str(key.ticket_id),
            "public_key": key.public_key,
            "revoked_at": int(as_utc(key.revoked_at).timestamp()),
        }
        for key in conn.execute(revoked_query)
    ]
    cancelled = (
        conn.execute(_CANCELLED, {"chain_id": event.chain_id, "contract": event.collection_address}).first()
        is not None
    )
    later = _entry_states(conn, event.id, ids) if rules.policies != {"single"} else {}
    tickets: dict[str, list] = {}
    tiers: dict[str, str] = {}
    owner_of: dict[str, uuid.UUID] = {}  # list id -> ticket
    compress, list_id, policy_for = codes.compress_public_key, gate_rules.list_id, rules.policy_for
    for row in rows:  # by token id; a ticket's newest active key last (there is one)
        holder = row.fan_address or row.chain_owner
        flags = (
            (
                gate_rules.HOLDER_CHANGED
                if row.public_key is not None
                and holder is not None
                and not _same_address(holder, row.key_holder)
                else 0
            )
            | (gate_rules.CHECKED_IN if row.admitted or row.chain_used else 0)
            | (gate_rules.REFUNDED if row.chain_burned else 0)
        )
        short = list_id(row.id)
        if (
            owner_of.setdefault(short, row.id) != row.id
        ):  # two tickets, one list id (~1 in 10^9 at 80k): neither
            tickets.pop(short, None)
            continue
        item = [short, row.token_id, row.tier_id, compress(row.public_key) if row.public_key else None, flags]
        if row.tier_name is not None:
            tiers[str(row.tier_id)] = row.tier_name
        policy = policy_for(row.tier_id)
        if policy != "single":
            entries, exits, days = later.get(row.id, (0, 0, []))
            first = 1 if row.admitted or row.chain_used else 0
            if policy == "days" and row.admitted:
                days = [
                    gate_rules.day_of(as_utc(row.admission_scanned_at).timestamp(), rules.timezone),
                    *days,
                ]
            item += [first + entries, exits, sorted(days)]
        tickets[short] = item
    body = {
        "version": 3,
        "kind": "delta" if delta else "full",
        "event_id": str(event.id),
        "event_name": event.name,
        "gate_label": getattr(gate_key, "label", None),
        "chain_id": event.chain_id,
        "collection": event.collection_address,
        "generated_at": int(read_at),
        "cursor": _cursor_text(read_at, block),
        "window_seconds": settings.gate_window_seconds,
        "rules": rules.as_json(),
        "cancelled": cancelled,
        "tiers": tiers,
        "fields": list(gate_rules.FIELDS),
        "tickets": list(tickets.values()),
        "revoked_keys": revoked,
    }
    if delta:
        body["since"] = since
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True)
    key = signing_key(settings)
    return payload, codes.sign_bytes(key, payload.encode()), codes.public_key_text(key)


def _key_refs(session: Session, gate_key_ids: set[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    if not gate_key_ids:
        return {}
    return dict(session.connection().execute(select(K.c.id, K.c.label).where(K.c.id.in_(gate_key_ids))).all())


def _recorded_here(
    session: Session, row: Any, gate_key_id: uuid.UUID, device: str, scanned_at: datetime, nonce: str | None
) -> bool:
    """Whether this offline scan is on record already: this very scan synced before (gate key, device,
    `scanned_at`), or the gate's online try of the same decision (`nonce`) admitted the ticket."""
    conn = session.connection()
    if row.admission_id is not None:
        admission = conn.execute(
            select(A.c.gate_key_id, A.c.device, A.c.source, A.c.scanned_at, A.c.nonce).where(
                A.c.id == row.admission_id
            )
        ).one()
        if admission.gate_key_id == gate_key_id and (
            nonce is not None
            and admission.nonce == nonce
            or admission.device == device
            and admission.source == "offline"
            and as_utc(admission.scanned_at) == scanned_at
        ):
            return True
    for entry in conn.execute(
        select(GE.c.gate_key_id, GE.c.device, GE.c.source, GE.c.scanned_at, GE.c.nonce).where(
            GE.c.ticket_id == row.id, GE.c.gate_key_id == gate_key_id
        )
    ):
        if (
            nonce is not None
            and entry.nonce == nonce
            or entry.device == device
            and entry.source == "offline"
            and as_utc(entry.scanned_at) == scanned_at
        ):
            return True
    return False


def _sync_one(
    session: Session,
    settings: Settings,
    gate_key: GateKeyLike,
    device: str,
    item: OfflineScan,
    labels: dict[uuid.UUID, str | None],
) -> OfflineScanResult:
    scanned_at = as_utc(item.scanned_at)
    event_id = _event_of(gate_key)
    rules = event_rules(session, settings, event_id)
    found: list[Any] = []

    def rejected(reason: GateReason, row: Any = None) -> OfflineScanResult:
        ticket_id = row.id if row is not None else None
        _record_refusal(
            session,
            event_id=event_id,
            gate_key_id=gate_key.id,
            device=device,
            source="offline",
            scanned_at=scanned_at,
            verdict=Verdict(False, reason, ticket_id),
        )
        ours = row is not None and reason != GateReason.wrong_event
        return OfflineScanResult(
            result="rejected", reason=reason, ticket_id=ticket_id, token_id=row.token_id if ours else None
        )

    # Genuine: signed by a key bound to this ticket at some point. The gate decided with its snapshot; a key
    # revoked since still made a genuine code, and the admission it led to is recorded as it happened.
    def every_key(ticket_id: uuid.UUID) -> TicketState | None:
        row = session.connection().execute(_LOOKUP, {"ticket_id": ticket_id}).first()
        if row is None:
            return None
        found.append(row)
        keys = tuple(
            set(
                session.connection()
                .execute(select(DK.c.public_key).where(DK.c.ticket_id == row.id))
                .scalars()
                .all()
            )
        )
        return _ticket_state(session, settings, row, event_id, rules, keys=keys)

    genuine = gate_rules.decide(
        item.code,
        now=scanned_at.timestamp(),
        rules=rules,
        lookup=every_key,
        direction=item.direction,
        only=gate_rules.GENUINE,
    )
    row = found[0] if found else None
    if genuine.reason is not None:
        return rejected(genuine.reason, row)
    assert row is not None  # admitted: the rules refuse an unknown ticket (`unknown_ticket`)
    result = OfflineScanResult(result="admitted", ticket_id=row.id, token_id=row.token_id)
    if _recorded_here(session, row, gate_key.id, device, scanned_at, item.nonce):
        result.result = "already_admitted_here"
        return result
    # What the offline gate could not know: the ticket's entries and exits since its snapshot.
    now = gate_rules.decide(
        item.code,
        now=scanned_at.timestamp(),
        rules=rules,
        lookup=lambda _: genuine.ticket,
        direction=item.direction,
        only=_ENTRY_RULES,
    )
    if now.admit:
        checked = _Checked(Verdict(True), row, genuine.ticket, rules)
        entered, _ = enter(
            session,
            checked=checked,
            event_id=event_id,
            gate_key_id=gate_key.id,
            device=device,
            source="offline",
            scanned_at=scanned_at,
            nonce=item.nonce,
            direction=item.direction,
        )
        if entered:
            return result
    elif now.reason in (GateReason.no_exit, GateReason.not_valid_today):
        return rejected(now.reason, row)
    # Entered (or let out) by another scan first: the one on record counts, this one is kept as a conflict.
    existing = session.connection().execute(select(A).where(A.c.ticket_id == row.id)).first()
    if existing is None:  # checked in on chain only, with no admission at a gate to name
        return rejected(GateReason.already_checked_in, row)
    conflict = (
        _insert(session, C)
        .values(
            id=uuid.uuid4(),
            event_id=event_id,
            ticket_id=row.id,
            admission_id=existing.id,
            gate_key_id=gate_key.id,
            device=device,
            scanned_at=scanned_at,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["ticket_id", "gate_key_id", "device", "scanned_at"])
    )
    with _writing(session):
        session.connection().execute(conflict)
        session.commit()
    if existing.gate_key_id not in labels:
        labels.update(_key_refs(session, {existing.gate_key_id}))
    result.result = "conflict"
    result.admitted_by = AdmissionRef(
        gate_key_id=existing.gate_key_id,
        gate_label=labels.get(existing.gate_key_id),
        device=existing.device,
        source=existing.source,
        scanned_at=as_utc(existing.scanned_at),
    )
    return result


def sync_offline_scans(
    *, session: Session, settings: Settings, gate_key: GateKeyLike, device: str, scans: list[OfflineScan]
) -> list[OfflineScanResult]:
    """Record what an offline gate admitted, in order, each through `admit`. Per scan: `admitted`;
    `already_admitted_here` (this very scan was synced before, or this gate key admitted the ticket with the
    scan's `nonce`: an online scan whose answer was lost); `conflict` (the ticket was admitted by another
    scan: the one on record counts, this one is kept in gate_conflicts); `rejected` (the code is not
    genuine)."""
    labels: dict[uuid.UUID, str | None] = {}
    return [_sync_one(session, settings, gate_key, device, item, labels) for item in scans]


def event_conflicts(*, session: Session, event: Event) -> list[GateConflictPublic]:
    """The event's conflicts, oldest first: the admission that counted and the offline scan that was
    refused."""
    conn = session.connection()
    rows = conn.execute(
        select(
            C.c.id,
            C.c.ticket_id,
            C.c.gate_key_id,
            C.c.device,
            C.c.scanned_at,
            C.c.created_at,
            T.c.token_id,
            A.c.gate_key_id.label("a_gate"),
            A.c.device.label("a_device"),
            A.c.source.label("a_source"),
            A.c.scanned_at.label("a_scanned_at"),
        )
        .select_from(C.join(A, A.c.id == C.c.admission_id).join(T, T.c.id == C.c.ticket_id))
        .where(C.c.event_id == event.id)
        .order_by(C.c.created_at, C.c.id)
    ).all()
    labels = _key_refs(session, {r.gate_key_id for r in rows} | {r.a_gate for r in rows})
    return [
        GateConflictPublic(
            id=r.id,
            ticket_id=r.ticket_id,
            token_id=r.token_id,
            created_at=as_utc(r.created_at),
            counted=AdmissionRef(
                gate_key_id=r.a_gate,
                gate_label=labels.get(r.a_gate),
                device=r.a_device,
                source=r.a_source,
                scanned_at=as_utc(r.a_scanned_at),
            ),
            other=AdmissionRef(
                gate_key_id=r.gate_key_id,
                gate_label=labels.get(r.gate_key_id),
                device=r.device,
                source="offline",
                scanned_at=as_utc(r.scanned_at),
            ),
        )
        for r in rows
    ]


# ---- binding device keys
def _expiry_text(expires_at: int) -> str:
    return datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def binding_message(ticket: Ticket, public_key: str, expires_at: int) -> str:
    """The EIP-191 text a self-custody holder signs to bind `public_key` to `ticket` (docs/gate.md)."""
    return (
        "ticketkit: bind this device key to my ticket. Its codes admit me at the door.\n\n"
        f"Ticket: {ticket.id}\nChain ID: {ticket.chain_id}\nContract: {ticket.contract}\n"
        f"Token ID: {ticket.token_id}\nDevice key: {public_key}\n"
        f"Expires: {expires_at} ({_expiry_text(expires_at)})"
    )


def _public_key(text: str) -> str:
    try:
        codes.load_public_key(text)
    except codes.CodeError:
        raise Unprocessable(
            "public_key is not a P-256 point (base64url, 65 bytes uncompressed)", code="invalid_public_key"
        ) from None
    return text


def _ticket(session: Session, ticket_id: uuid.UUID) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("no such ticket", code="ticket_not_found")
    return ticket


def device_message(*, session: Session, ticket_id: uuid.UUID, public_key: str) -> DeviceMessage:
    ticket = _ticket(session, ticket_id)
    expires_at = int(time.time()) + MESSAGE_TTL
    return DeviceMessage(
        ticket_id=ticket.id,
        message=binding_message(ticket, _public_key(public_key), expires_at),
        expires_at=expires_at,
    )


def ticket_by_token(*, session: Session, chain_id: int, contract: str, token_id: int) -> Ticket:
    try:
        address = to_checksum_address(contract)
    except ValueError:
        raise NotFound("no such ticket", code="ticket_not_found") from None
    if token_id > 2**31 - 1:  # tickets.token_id is an INTEGER: no ticket has a larger id (PostgreSQL: a 500)
        raise NotFound("no such ticket", code="ticket_not_found")
    ticket = session.exec(
        orm_select(Ticket).where(
            Ticket.chain_id == chain_id, Ticket.contract == address, Ticket.token_id == token_id
        )
    ).first()
    if ticket is None:
        raise NotFound("no such ticket", code="ticket_not_found")
    return ticket


def _wallet_holder(runtime: Runtime, ticket: Ticket, public_key: str, signature: str, expires_at: int) -> str:
    now = int(time.time())
    if expires_at <= now:
        raise Unprocessable(
            "the signed binding message has expired; ask for a new one", code="message_expired"
        )
    if expires_at > now + MAX_MESSAGE_TTL:
        raise Unprocessable("expires_at is too far ahead", code="invalid_expiry")
    try:
        signer = Account.recover_message(
            encode_defunct(text=binding_message(ticket, public_key, expires_at)), signature=signature
        )
    except Exception:  # noqa: BLE001  # an undecodable signature is a bad one
        raise Unprocessable(
            "the signature does not recover an address for this message", code="bad_signature"
        ) from None
    try:
        owner = tk.Collection(runtime.chain(), ticket.contract).owner_of(ticket.token_id)
    except tk.ContractRevert:
        owner = None  # burned (refunded)
    if not _same_address(owner, signer):
        raise Forbidden("the signer does not hold this ticket on chain", code="not_owner")
    return to_checksum_address(signer)


def bind_device(
    *,
    session: Session,
    runtime: Runtime,
    ticket_id: uuid.UUID,
    public_key: str,
    fan: Fan | None,
    wallet_signature: str | None = None,
    expires_at: int | None = None,
) -> DeviceKey:
    """The only write path for device keys: bind `public_key` to the ticket for its holder, revoking the
    previous key. Self-custody: `wallet_signature` by the on-chain owner over `binding_message`. Account
    holders: their session (`fan`). Binding the active key again for the same holder changes nothing."""
    public_key = _public_key(public_key)
    ticket = _ticket(session, ticket_id)
    if wallet_signature is not None:
        if expires_at is None:
            raise Unprocessable("a wallet binding needs the message's expires_at", code="invalid_expiry")
        holder, bound_by = _wallet_holder(runtime, ticket, public_key, wallet_signature, expires_at), "wallet"
    else:
        if fan is None:
            raise Unauthorized("a fan session token or a wallet signature is required")
        if ticket.owner_fan_id != fan.id:
            raise NotFound("no such ticket", code="ticket_not_found")
        holder, bound_by = fan.address, "gateway"
    # One binder at a time per ticket: the row lock on PostgreSQL; on SQLite the UPDATE below takes the
    # database's write lock before anything is decided from what it reads.
    session.exec(orm_select(col(Ticket.id)).where(col(Ticket.id) == ticket.id).with_for_update()).first()
    now = utcnow()
    session.connection().execute(
        update(DK)
        .where(
            DK.c.ticket_id == ticket.id,
            DK.c.revoked_at.is_(None),
            ~and_(DK.c.public_key == public_key, DK.c.holder == holder),
        )
        .values(revoked_at=now)
    )
    current = session.exec(
        orm_select(DeviceKey).where(
            DeviceKey.ticket_id == ticket.id,
            col(DeviceKey.revoked_at).is_(None),
            DeviceKey.public_key == public_key,
            DeviceKey.holder == holder,
        )
    ).first()
    if current is None:
        current = DeviceKey(
            ticket_id=ticket.id, public_key=public_key, holder=holder, bound_by=bound_by, created_at=now
        )
        session.add(current)
    session.commit()
    session.refresh(current)
    return current


# ---- the door: an event's entry policy and pass details, a ticket's place (the organiser's)
def _door_public(event_id: uuid.UUID, door: EventDoor | None) -> EventDoorPublic:
    door = door or EventDoor(event_id=event_id)
    return EventDoorPublic(
        event_id=event_id,
        entry_policy=door.entry_policy,
        entry_days=json.loads(door.entry_days),
        tier_policies={int(k): v for k, v in json.loads(door.tier_policies).items()},
        timezone=door.timezone,
        venue=door.venue,
        starts_at=door.starts_at and as_utc(door.starts_at),
        doors_at=door.doors_at and as_utc(door.doors_at),
        offline_unlisted=door.offline_unlisted,
    )


def door(*, session: Session, event_id: uuid.UUID) -> EventDoorPublic:
    """The event's door settings (the defaults when none were set: single entry, UTC)."""
    return _door_public(event_id, session.get(EventDoor, event_id))


def set_door(*, session: Session, event: Event, data: EventDoorSet) -> EventDoorPublic:
    """Set the event's entry policy and pass details (every field; idempotent). 422 `invalid_timezone` for a
    zone that is not an IANA name, `entry_days_required` for a day pass with no days."""
    try:
        gate_rules.day_of(0, data.timezone)
    except ValueError as error:
        raise Unprocessable(str(error), code="invalid_timezone") from None
    days = sorted({day.isoformat() for day in data.entry_days})
    if "days" in {data.entry_policy, *data.tier_policies.values()} and not days:
        raise Unprocessable(
            "a day pass names the days it is valid on (entry_days)", code="entry_days_required"
        )
    row = session.get(EventDoor, event.id) or EventDoor(event_id=event.id)
    row.entry_policy, row.entry_days, row.timezone = data.entry_policy, json.dumps(days), data.timezone
    row.tier_policies = json.dumps({str(tier): policy for tier, policy in sorted(data.tier_policies.items())})
    row.venue, row.starts_at, row.doors_at = data.venue, data.starts_at, data.doors_at
    row.offline_unlisted, row.updated_at = data.offline_unlisted, utcnow()
    session.add(row)
    session.commit()
    _rules_cache.pop(event.id, None)  # other processes: within gate_cache_seconds
    return _door_public(event.id, row)


def set_place(
    *, session: Session, event: Event, ticket_id: uuid.UUID, data: TicketPlaceBase
) -> TicketPlacePublic:
    """Set (or clear, all fields null) where a ticket of the event sits: section, row, seat."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.event_id != event.id:
        raise NotFound("no such ticket in this event", code="ticket_not_found")
    place = session.get(TicketPlace, ticket_id) or TicketPlace(ticket_id=ticket_id)
    place.section, place.row, place.seat = data.section, data.row, data.seat
    session.add(place)
    session.commit()
    return TicketPlacePublic(ticket_id=ticket_id, section=place.section, row=place.row, seat=place.seat)


def ticket_door(door: Any, place: Any, admission: Any, tier_id: int | None = None) -> TicketDoor:
    """A pass's door details from its event's door row, its place row and its admission (scanned_at and the
    gate's
    label), each None where there is none — the one place that decides what a pass shows about its door. The
    entry policy is the ticket's own: its tier's (`tier_policies`), else the event's."""
    policy = "single"
    if door is not None:
        policy = json.loads(door.tier_policies or "{}").get(str(tier_id), door.entry_policy)
    return TicketDoor(
        venue=door and door.venue,
        timezone=door.timezone if door else "UTC",
        starts_at=door and door.starts_at and as_utc(door.starts_at),
        doors_at=door and door.doors_at and as_utc(door.doors_at),
        entry_policy=policy,
        entry_days=json.loads(door.entry_days) if door else [],
        section=place and place.section,
        row=place and place.row,
        seat=place and place.seat,
        checked_in_at=admission and as_utc(admission.scanned_at),
        checked_in_gate=admission and admission.label,
    )
