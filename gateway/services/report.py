"""The organiser's event report: read-only queries that build one typed `EventReport`.

Sources, one per figure:

- **Sales**: the `tickets` table. It has one row per token whichever way the ticket was sold (issued
  through the gateway: `issuance_id` set; bought on chain: the row the indexer created, `issuance_id`
  NULL), it is unique per token (nothing is counted twice), it exists without the indexer for
  gateway issues, and it has a time (`created_at`). `chain_events` has no timestamps (only block
  numbers) and is empty unless the indexer runs. The time of an on-chain purchase is therefore when the
  indexer recorded it (a lag of `confirmations` blocks plus a poll; a backfill puts them all at once).
  Refunds are not subtracted.
- **Check-ins**: gate admissions (`gate_admissions`) per gate key and minute of `scanned_at` — the
  moment the holder passed the gate; for offline scans that is the gate's clock, not the later sync.
  Plus on-chain check-ins (the indexer's `checkins`) of tickets no gate admitted, as the series
  `on_chain`, timed by their block's timestamp (read from the node; `minute` is None if it cannot be).
- **Resale**: gateway settlements (`done`) with the listing's price and cap and the royalty owed to the
  organiser (ERC-2981 on the declared price, recorded with the settlement; the buyer pays off chain, so
  the organiser collects it off chain); and resales bought on chain (`ResaleBought` in `chain_events`),
  whose cap and royalty are not on record here (None: the contract paid that royalty itself).
- **Badges**: the indexer's `badges` of the event, issued and revoked.
- **Doors** (the live dashboard): refusals (`gate_refusals`) per reason and minute; gate conflicts; attendance
  (tickets not refunded — `Refunded` in `chain_events` — against tickets checked in) and check-ins per tier;
  the check-in queue to the chain (admissions not yet `done`, the oldest one's wait).
- **Revenue**: primary = face value × tickets sold and not refunded, per tier. Royalties: from each on-chain
  `ResaleBought` (its `royalty`), and for gateway resales the royalty recorded with each settlement (a
  settlement from before that record: price × the collection's ERC-2981 rate read from the chain,
  `royaltyInfo`), as `royalties_computed`; None if such a rate cannot be read.
- **Attendees** (exports only): one pseudonymous row per ticket checked in — token, tier, entry time, gate;
  no account, address or contact.

Times are UTC in the JSON; `timezone` (the event's details, default UTC) is the zone the dashboard shows.

Buckets are computed in Python from UTC datetimes, so SQLite and PostgreSQL give the same answer.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, cast

from sqlmodel import Session, SQLModel, col, select
from web3.exceptions import Web3Exception

if TYPE_CHECKING:
    from web3.types import BlockData

import ticketkit as tk

from ..indexer.models import Badge, ChainEvent, Checkin, IndexerContract
from ..models import (
    Admission,
    ApiKey,
    Event,
    EventDetails,
    GateConflict,
    GateRefusal,
    QueueState,
    ResaleListing,
    ResaleSettlement,
    SendStatus,
    Ticket,
    Tier,
    as_utc,
    utcnow,
)

log = logging.getLogger(__name__)

Bucket = Literal["hour", "day", "week"]
BUCKETS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
ON_CHAIN = "on_chain"  # the check-in series of tickets checked in on chain, not through a gate

# Block number -> its timestamp (UTC); blocks it cannot time are left out.
BlockTimes = Callable[[Iterable[int]], dict[int, datetime]]


# ---- the report (response models)
class SalesRow(SQLModel):
    """Tickets of one tier sold in one bucket (only buckets with sales)."""

    bucket: datetime  # start of the bucket, UTC
    tier_id: int
    tier_name: str | None
    gateway: int  # issued through the gateway
    on_chain: int  # bought on chain (recorded by the indexer)
    total: int


class TierSales(SQLModel):
    tier_id: int
    tier_name: str | None
    supply: int | None
    gateway: int
    on_chain: int
    total: int
    refunded: int = 0
    checked_in: int = 0  # tickets of the tier checked in (gates and on chain)
    face_value_wei: str | None = None
    revenue_wei: str = "0"  # face value x (total - refunded)


class SalesSection(SQLModel):
    bucket: Bucket
    rows: list[SalesRow]
    tiers: list[TierSales]
    gateway: int
    on_chain: int
    total: int


class CheckinRow(SQLModel):
    """Check-ins at one gate in one minute (only minutes with check-ins)."""

    minute: datetime | None  # None: an on-chain check-in whose block time could not be read
    gate: str  # the gate key's id, or "on_chain"
    gate_label: str | None
    count: int


class GateCheckins(SQLModel):
    gate: str
    gate_label: str | None
    count: int


class CheckinSection(SQLModel):
    rows: list[CheckinRow]
    gates: list[GateCheckins]
    through_gates: int
    on_chain: int  # checked in on chain without a gate admission
    total: int


class ResaleSale(SQLModel):
    id: uuid.UUID  # the settlement, or the chain_events row of an on-chain resale
    channel: Literal["gateway", "on_chain"]
    sold_at: datetime | None
    token_id: int
    tier_id: int | None
    price_wei: str
    cap_wei: str | None  # None: not on record (on-chain resales)
    ratio: float | None  # price / cap
    royalty_wei: str | None = None  # owed to the organiser (gateway); None: not on record (paid on chain)


class ResaleSection(SQLModel):
    sold: int
    volume_wei: str
    royalty_wei: str = "0"  # owed to the organiser on the gateway's resales (off chain)
    max_ratio: float | None  # over the sales with a known, non-zero cap
    sales: list[ResaleSale]  # by time sold


class BadgeSection(SQLModel):
    issued: int  # every badge minted for the event, revoked ones included
    revoked: int
    held: int


class RefusalRow(SQLModel):
    """Refused scans of one reason in one minute (only minutes with refusals)."""

    minute: datetime
    reason: str
    count: int


class ReasonCount(SQLModel):
    reason: str
    count: int


class RefusalSection(SQLModel):
    rows: list[RefusalRow]
    reasons: list[ReasonCount]  # most frequent first
    total: int


class AttendanceSection(SQLModel):
    tickets: int  # sold and not refunded
    refunded: int
    checked_in: int
    no_shows: int  # tickets not checked in (during doors: not arrived yet)
    rate: float | None  # checked_in / tickets
    conflicts: int  # tickets admitted at a second gate offline (docs/gate.md)


class RevenueSection(SQLModel):
    primary_wei: str
    royalty_bps: int | None  # the collection's ERC-2981 rate; None: could not be read
    royalties_wei: str | None  # None: some royalties could not be known
    royalties_on_chain_wei: str  # from ResaleBought events
    royalties_computed_wei: str | None  # gateway resales: price x royalty_bps


class QueueSection(SQLModel):
    """Gate admissions on their way to the chain (checkIn batches)."""

    waiting: int  # queued or sent, not yet done
    oldest_waiting_at: datetime | None  # admitted_at of the oldest waiting admission
    lag_seconds: float | None  # how long it has waited (0 when nothing waits)
    done: int


class AttendeeRow(SQLModel):
    """One ticket checked in, without any personal data."""

    token_id: int
    tier_id: int | None
    tier_name: str | None
    entered_at: datetime | None  # the gate's scan time; on-chain check-ins: the block's time
    gate: str | None  # the gate's label (or id); "on chain" for a check-in without a gate
    source: str  # online | offline | on_chain


class EventReport(SQLModel):
    event_id: uuid.UUID
    event_name: str | None
    timezone: str = "UTC"  # the event's IANA time zone, for display
    generated_at: datetime
    indexed_to_block: int | None  # how far the indexer has read the collection; None: not yet
    sales: SalesSection
    checkins: CheckinSection
    resale: ResaleSection
    badges: BadgeSection
    refusals: RefusalSection
    attendance: AttendanceSection
    revenue: RevenueSection
    queue: QueueSection
    attendees: list[AttendeeRow] | None = None  # only when asked for (exports)


# ---- helpers
def bucket_start(value: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC hour, day or ISO week (Monday) that `value` falls in."""
    value = as_utc(value)
    if bucket == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def minute_start(value: datetime) -> datetime:
    return as_utc(value).replace(second=0, microsecond=0)


def choose_bucket(times: Iterable[datetime]) -> Bucket:
    """Hours for up to three days of sales, days for up to 90 days, else weeks."""
    utc = [as_utc(t) for t in times]
    span = max(utc) - min(utc) if utc else timedelta(0)
    if span <= timedelta(days=3):
        return "hour"
    return "day" if span <= timedelta(days=90) else "week"


def wei_to_eth(wei: int | str) -> str:
    """An exact decimal ether amount ("0.11"), for spreadsheets that round long integers."""
    whole, fraction = divmod(int(wei), 10**18)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def chain_royalty_bps(chain: Callable[[], tk.Chain], collection: str) -> Callable[[], int | None]:
    """The collection's ERC-2981 default rate in basis points, read from the node (None if it cannot be)."""

    def read() -> int | None:
        try:
            _, amount = tk.Collection(chain(), collection).call("royaltyInfo", 1, 10_000)
            return int(amount)
        except (tk.ChainError, OSError, Web3Exception) as error:
            log.warning("report: royalty rate unavailable (%s)", type(error).__name__)
            return None

    return read


def chain_block_times(chain: Callable[[], tk.Chain], *, batch: int = 200) -> BlockTimes:
    """Block timestamps from the node, in batched JSON-RPC requests; a node failure leaves blocks untimed."""

    def lookup(numbers: Iterable[int]) -> dict[int, datetime]:
        wanted = sorted(set(numbers))
        found: dict[int, datetime] = {}
        if not wanted:
            return found
        try:
            w3 = chain().w3
            for i in range(0, len(wanted), batch):
                part = wanted[i : i + batch]
                with w3.batch_requests() as requests:
                    for n in part:
                        requests.add(w3.eth.get_block(n))
                    blocks = requests.execute()
                for n, block in zip(part, blocks):
                    found[n] = datetime.fromtimestamp(int(cast("BlockData", block)["timestamp"]), UTC)
        except (tk.ChainError, OSError, Web3Exception) as error:
            log.warning("report: block times unavailable (%s)", type(error).__name__)
        return found

    return lookup


# ---- the sections
def _sales(session: Session, event: Event, tiers: dict[int, Tier], bucket: Bucket | None) -> SalesSection:
    rows = session.exec(
        select(Ticket.tier_id, Ticket.created_at, Ticket.issuance_id).where(Ticket.event_id == event.id)
    ).all()
    bucket = bucket or choose_bucket(created for _, created, _ in rows)
    counts: dict[tuple[datetime, int], Counter[str]] = defaultdict(Counter)
    per_tier: dict[int, Counter[str]] = defaultdict(Counter)
    for tier_id, created, issuance_id in rows:
        channel = "gateway" if issuance_id is not None else "on_chain"
        counts[(bucket_start(created, bucket), tier_id)][channel] += 1
        per_tier[tier_id][channel] += 1

    def name(tier_id: int) -> str | None:
        return tiers[tier_id].name if tier_id in tiers else None

    sales = [
        SalesRow(
            bucket=start,
            tier_id=tier_id,
            tier_name=name(tier_id),
            gateway=c["gateway"],
            on_chain=c["on_chain"],
            total=c["gateway"] + c["on_chain"],
        )
        for (start, tier_id), c in sorted(counts.items())
    ]
    tier_totals = [
        TierSales(
            tier_id=tier_id,
            tier_name=name(tier_id),
            supply=tiers[tier_id].supply if tier_id in tiers else None,
            gateway=per_tier[tier_id]["gateway"],
            on_chain=per_tier[tier_id]["on_chain"],
            total=per_tier[tier_id]["gateway"] + per_tier[tier_id]["on_chain"],
        )
        for tier_id in sorted(set(tiers) | set(per_tier))
    ]
    gateway = sum(t.gateway for t in tier_totals)
    on_chain = sum(t.on_chain for t in tier_totals)
    return SalesSection(
        bucket=bucket,
        rows=sales,
        tiers=tier_totals,
        gateway=gateway,
        on_chain=on_chain,
        total=gateway + on_chain,
    )


def _checkins(session: Session, event: Event, block_times: BlockTimes) -> CheckinSection:
    admissions = session.exec(
        select(Admission.token_id, Admission.scanned_at, Admission.gate_key_id, ApiKey.label)
        .join(ApiKey, col(ApiKey.id) == Admission.gate_key_id)
        .where(Admission.event_id == event.id)
    ).all()
    admitted = {token_id for token_id, _, _, _ in admissions}
    chain_only = [
        (token_id, block)
        for token_id, block in session.exec(
            select(Checkin.token_id, Checkin.block_number).where(Checkin.event_id == event.id)
        ).all()
        if token_id not in admitted
    ]
    times = block_times(block for _, block in chain_only) if chain_only else {}

    labels: dict[str, str | None] = {ON_CHAIN: "on chain"}
    counts: Counter[tuple[str, datetime | None]] = Counter()
    for _, scanned_at, gate_key_id, label in admissions:
        labels[str(gate_key_id)] = label
        counts[(str(gate_key_id), minute_start(scanned_at))] += 1
    for _, block in chain_only:
        at = times.get(block)
        counts[(ON_CHAIN, minute_start(at) if at else None)] += 1

    def order(item: tuple[tuple[str, datetime | None], int]) -> tuple[bool, datetime, bool, str]:
        (gate, minute), _ = item
        return minute is None, minute or datetime.min.replace(tzinfo=UTC), gate == ON_CHAIN, gate

    rows = [
        CheckinRow(minute=minute, gate=gate, gate_label=labels[gate], count=n)
        for (gate, minute), n in sorted(counts.items(), key=order)
    ]
    per_gate: Counter[str] = Counter()
    for row in rows:
        per_gate[row.gate] += row.count
    gates = [
        GateCheckins(gate=gate, gate_label=labels[gate], count=n)
        for gate, n in sorted(per_gate.items(), key=lambda g: (g[0] == ON_CHAIN, labels[g[0]] or "", g[0]))
    ]
    return CheckinSection(
        rows=rows,
        gates=gates,
        through_gates=len(admissions),
        on_chain=len(chain_only),
        total=len(admissions) + len(chain_only),
    )


def _ratio(price: int, cap: int | None) -> float | None:
    return price / cap if cap else None


def _resale(session: Session, event: Event, block_times: BlockTimes) -> ResaleSection:
    sales: list[ResaleSale] = []
    settled = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            ResaleSettlement.id,
            ResaleSettlement.created_at,
            ResaleSettlement.price_wei,
            ResaleListing.cap_wei,
            Ticket.token_id,
            Ticket.tier_id,
            ResaleSettlement.royalty_wei,
        )
        .join(ResaleListing, ResaleListing.id == ResaleSettlement.listing_id)
        .join(Ticket, Ticket.id == ResaleSettlement.ticket_id)
        .where(Ticket.event_id == event.id, ResaleSettlement.status == SendStatus.done)
    ).all()
    for sale_id, created, price, cap, token_id, tier_id, royalty in settled:
        sales.append(
            ResaleSale(
                id=sale_id,
                channel="gateway",
                sold_at=as_utc(created),
                token_id=token_id,
                tier_id=tier_id,
                price_wei=price,
                cap_wei=cap,
                ratio=_ratio(int(price), int(cap)),
                royalty_wei=royalty,
            )
        )
    on_chain = session.exec(
        select(ChainEvent.id, ChainEvent.block_number, ChainEvent.token_id, ChainEvent.price_wei).where(
            ChainEvent.chain_id == event.chain_id,
            ChainEvent.contract == event.collection_address,
            ChainEvent.name == "ResaleBought",
        )
    ).all()
    if on_chain:
        tier_of = dict(
            session.exec(select(Ticket.token_id, Ticket.tier_id).where(Ticket.event_id == event.id)).all()
        )
        times = block_times(block for _, block, _, _ in on_chain)
        for row_id, block, token_id, price in on_chain:
            assert token_id is not None  # every ResaleBought names its token
            sales.append(
                ResaleSale(
                    id=row_id,
                    channel="on_chain",
                    sold_at=times.get(block),
                    token_id=int(token_id),
                    tier_id=tier_of.get(int(token_id)),
                    price_wei=price or "0",
                    cap_wei=None,
                    ratio=None,
                )
            )
    sales.sort(key=lambda s: (s.sold_at is None, s.sold_at or datetime.min.replace(tzinfo=UTC), s.token_id))
    ratios = [s.ratio for s in sales if s.ratio is not None]
    return ResaleSection(
        sold=len(sales),
        volume_wei=str(sum(int(s.price_wei) for s in sales)),
        royalty_wei=str(sum(int(s.royalty_wei or 0) for s in sales if s.channel == "gateway")),
        max_ratio=max(ratios) if ratios else None,
        sales=sales,
    )


def _badges(session: Session, event: Event) -> BadgeSection:
    revoked_flags = session.exec(select(Badge.revoked).where(Badge.event_id == event.id)).all()
    revoked = sum(1 for r in revoked_flags if r)
    return BadgeSection(issued=len(revoked_flags), revoked=revoked, held=len(revoked_flags) - revoked)


def _refusals(session: Session, event: Event) -> RefusalSection:
    counts: Counter[tuple[datetime, str]] = Counter()
    for reason, scanned_at in session.exec(
        select(GateRefusal.reason, GateRefusal.scanned_at).where(GateRefusal.event_id == event.id)
    ).all():
        counts[(minute_start(scanned_at), reason)] += 1
    per_reason: Counter[str] = Counter()
    for (_, reason), n in counts.items():
        per_reason[reason] += n
    return RefusalSection(
        rows=[RefusalRow(minute=m, reason=r, count=n) for (m, r), n in sorted(counts.items())],
        reasons=[
            ReasonCount(reason=r, count=n) for r, n in sorted(per_reason.items(), key=lambda x: (-x[1], x[0]))
        ],
        total=sum(per_reason.values()),
    )


def _refunded_tokens(session: Session, event: Event) -> set[int]:
    return {
        int(t)
        for t in session.exec(
            select(ChainEvent.token_id).where(
                ChainEvent.chain_id == event.chain_id,
                ChainEvent.contract == event.collection_address,
                ChainEvent.name == "Refunded",
            )
        ).all()
        if t is not None
    }


def _attendees(
    session: Session, event: Event, tiers: dict[int, Tier], block_times: BlockTimes
) -> list[AttendeeRow]:
    tier_of = dict(
        session.exec(select(Ticket.token_id, Ticket.tier_id).where(Ticket.event_id == event.id)).all()
    )
    rows: list[AttendeeRow] = []
    admitted = set()
    for token_id, scanned_at, source, gate_id, label in session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            Admission.token_id, Admission.scanned_at, Admission.source, Admission.gate_key_id, ApiKey.label
        )
        .join(ApiKey, ApiKey.id == Admission.gate_key_id)
        .where(Admission.event_id == event.id)
    ).all():
        admitted.add(token_id)
        tier_id = tier_of.get(token_id)
        rows.append(
            AttendeeRow(
                token_id=token_id,
                tier_id=tier_id,
                tier_name=tiers[tier_id].name if tier_id in tiers else None,
                entered_at=as_utc(scanned_at),
                gate=label or str(gate_id),
                source=source,
            )
        )
    chain_only = [
        (t, b)
        for t, b in session.exec(
            select(Checkin.token_id, Checkin.block_number).where(Checkin.event_id == event.id)
        ).all()
        if t not in admitted
    ]
    times = block_times(b for _, b in chain_only) if chain_only else {}
    for token_id, block in chain_only:
        tier_id = tier_of.get(token_id)
        rows.append(
            AttendeeRow(
                token_id=token_id,
                tier_id=tier_id,
                tier_name=tiers[tier_id].name if tier_id in tiers else None,
                entered_at=times.get(block),
                gate="on chain",
                source=ON_CHAIN,
            )
        )
    rows.sort(
        key=lambda r: (
            r.entered_at is None,
            r.entered_at or datetime.min.replace(tzinfo=UTC),
            r.token_id,
        )
    )
    return rows


def _queue(session: Session, event: Event, now: datetime) -> QueueSection:
    waiting = session.exec(
        select(Admission.admitted_at)
        .where(
            Admission.event_id == event.id,
            col(Admission.chain_status).in_((QueueState.queued, QueueState.sent)),
        )
        .order_by(col(Admission.admitted_at))
    ).all()
    done = len(
        session.exec(
            select(Admission.id).where(
                Admission.event_id == event.id, Admission.chain_status == QueueState.done
            )
        ).all()
    )
    oldest = as_utc(waiting[0]) if waiting else None
    return QueueSection(
        waiting=len(waiting),
        oldest_waiting_at=oldest,
        done=done,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )


def _revenue(
    sales: SalesSection, resale: ResaleSection, on_chain_royalty: int, bps: int | None
) -> RevenueSection:
    """Royalties of gateway resales: as recorded with each settlement (ERC-2981 on the declared price); a
    settlement from before that record: price x the collection's rate (None if the rate cannot be read)."""
    primary = sum(int(t.revenue_wei) for t in sales.tiers)
    gateway = [s for s in resale.sales if s.channel == "gateway"]
    recorded = sum(int(s.royalty_wei) for s in gateway if s.royalty_wei is not None)
    unrecorded = [int(s.price_wei) for s in gateway if s.royalty_wei is None]
    computed = (
        None if unrecorded and bps is None else recorded + sum(p * (bps or 0) // 10_000 for p in unrecorded)
    )
    total = None if computed is None else on_chain_royalty + computed
    return RevenueSection(
        primary_wei=str(primary),
        royalty_bps=bps,
        royalties_on_chain_wei=str(on_chain_royalty),
        royalties_computed_wei=None if computed is None else str(computed),
        royalties_wei=None if total is None else str(total),
    )


def event_report(
    *,
    session: Session,
    event: Event,
    block_times: BlockTimes,
    bucket: Bucket | None = None,
    now: datetime | None = None,
    royalty_bps: Callable[[], int | None] | None = None,
    attendees: bool = False,
) -> EventReport:
    """The report of one event (the caller checks it is the organiser's). Reads only.

    `bucket` fixes the sales bucket; by default it follows the span of the sales (`choose_bucket`).
    `block_times` times on-chain check-ins and resales (`chain_block_times(runtime.chain)`).
    `royalty_bps` reads the collection's royalty rate (`chain_royalty_bps`); without it, gateway resales'
    royalties are unknown. `attendees` adds the pseudonymous attendee list (exports).
    """
    now = now or utcnow()
    tiers = {t.tier_id: t for t in session.exec(select(Tier).where(Tier.event_id == event.id)).all()}
    indexed = session.exec(
        select(IndexerContract.indexed_to).where(
            IndexerContract.chain_id == event.chain_id, IndexerContract.address == event.collection_address
        )
    ).first()
    details = session.get(EventDetails, event.id)
    sales = _sales(session, event, tiers, bucket)
    checkins = _checkins(session, event, block_times)
    resale = _resale(session, event, block_times)

    # per tier: refunds, check-ins, revenue
    tier_of = dict(
        session.exec(select(Ticket.token_id, Ticket.tier_id).where(Ticket.event_id == event.id)).all()
    )
    refunded = _refunded_tokens(session, event)
    checked = set(session.exec(select(Admission.token_id).where(Admission.event_id == event.id)).all())
    checked |= set(session.exec(select(Checkin.token_id).where(Checkin.event_id == event.id)).all())
    refunded_per: Counter[int] = Counter(tier_of[t] for t in refunded if t in tier_of)
    checked_per: Counter[int] = Counter(tier_of[t] for t in checked if t in tier_of)
    for t in sales.tiers:
        t.refunded, t.checked_in = refunded_per[t.tier_id], checked_per[t.tier_id]
        face = tiers[t.tier_id].face_value_wei if t.tier_id in tiers else None
        t.face_value_wei = face
        t.revenue_wei = str(int(face) * (t.total - t.refunded)) if face is not None else "0"
    tickets = sales.total - len(refunded & set(tier_of))
    conflicts = len(session.exec(select(GateConflict.id).where(GateConflict.event_id == event.id)).all())
    attendance = AttendanceSection(
        tickets=tickets,
        refunded=sales.total - tickets,
        checked_in=checkins.total,
        no_shows=max(0, tickets - checkins.total),
        rate=checkins.total / tickets if tickets else None,
        conflicts=conflicts,
    )
    on_chain_royalty = 0
    for args in session.exec(
        select(ChainEvent.args).where(
            ChainEvent.chain_id == event.chain_id,
            ChainEvent.contract == event.collection_address,
            ChainEvent.name == "ResaleBought",
        )
    ).all():
        on_chain_royalty += int(json.loads(args or "{}").get("royalty", 0))
    bps = royalty_bps() if royalty_bps is not None else None
    return EventReport(
        event_id=event.id,
        event_name=event.name,
        timezone=details.timezone if details else "UTC",
        generated_at=now,
        indexed_to_block=indexed,
        sales=sales,
        checkins=checkins,
        resale=resale,
        badges=_badges(session, event),
        refusals=_refusals(session, event),
        attendance=attendance,
        revenue=_revenue(sales, resale, on_chain_royalty, bps),
        queue=_queue(session, event, now),
        attendees=_attendees(session, event, tiers, block_times) if attendees else None,
    )
