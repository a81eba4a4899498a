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

Buckets are computed in Python from UTC datetimes, so SQLite and PostgreSQL give the same answer.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Literal

from sqlmodel import Session, SQLModel, select
from web3.exceptions import Web3Exception

import ticketkit as tk

from ..indexer.models import Badge, ChainEvent, Checkin, IndexerContract
from ..models import Admission, ApiKey, Event, ResaleListing, ResaleSettlement, Ticket, Tier, utcnow

log = logging.getLogger(__name__)

Bucket = Literal["hour", "day", "week"]
BUCKETS: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
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


class EventReport(SQLModel):
    event_id: uuid.UUID
    event_name: str | None
    generated_at: datetime
    indexed_to_block: int | None  # how far the indexer has read the collection; None: not yet
    sales: SalesSection
    checkins: CheckinSection
    resale: ResaleSection
    badges: BadgeSection


# ---- helpers
def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def bucket_start(value: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC hour, day or ISO week (Monday) that `value` falls in."""
    value = _utc(value)
    if bucket == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def minute_start(value: datetime) -> datetime:
    return _utc(value).replace(second=0, microsecond=0)


def choose_bucket(times: Iterable[datetime]) -> Bucket:
    """Hours for up to three days of sales, days for up to 90 days, else weeks."""
    utc = [_utc(t) for t in times]
    span = max(utc) - min(utc) if utc else timedelta(0)
    if span <= timedelta(days=3):
        return "hour"
    return "day" if span <= timedelta(days=90) else "week"


def wei_to_eth(wei: int | str) -> str:
    """An exact decimal ether amount ("0.11"), for spreadsheets that round long integers."""
    whole, fraction = divmod(int(wei), 10**18)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


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
                part = wanted[i:i + batch]
                with w3.batch_requests() as requests:
                    for n in part:
                        requests.add(w3.eth.get_block(n))
                    blocks = requests.execute()
                for n, block in zip(part, blocks):
                    found[n] = datetime.fromtimestamp(int(block["timestamp"]), timezone.utc)
        except (tk.ChainError, OSError, Web3Exception) as error:
            log.warning("report: block times unavailable (%s)", type(error).__name__)
        return found

    return lookup


# ---- the sections
def _sales(session: Session, event: Event, tiers: dict[int, Tier], bucket: Bucket | None) -> SalesSection:
    rows = session.exec(select(Ticket.tier_id, Ticket.created_at, Ticket.issuance_id)
                        .where(Ticket.event_id == event.id)).all()
    bucket = bucket or choose_bucket(created for _, created, _ in rows)
    counts: dict[tuple[datetime, int], Counter[str]] = defaultdict(Counter)
    per_tier: dict[int, Counter[str]] = defaultdict(Counter)
    for tier_id, created, issuance_id in rows:
        channel = "gateway" if issuance_id is not None else "on_chain"
        counts[(bucket_start(created, bucket), tier_id)][channel] += 1
        per_tier[tier_id][channel] += 1

    def name(tier_id: int) -> str | None:
        return tiers[tier_id].name if tier_id in tiers else None

    sales = [SalesRow(bucket=start, tier_id=tier_id, tier_name=name(tier_id), gateway=c["gateway"],
                      on_chain=c["on_chain"], total=c["gateway"] + c["on_chain"])
             for (start, tier_id), c in sorted(counts.items())]
    tier_totals = [TierSales(tier_id=tier_id, tier_name=name(tier_id),
                             supply=tiers[tier_id].supply if tier_id in tiers else None,
                             gateway=per_tier[tier_id]["gateway"], on_chain=per_tier[tier_id]["on_chain"],
                             total=per_tier[tier_id]["gateway"] + per_tier[tier_id]["on_chain"])
                   for tier_id in sorted(set(tiers) | set(per_tier))]
    gateway = sum(t.gateway for t in tier_totals)
    on_chain = sum(t.on_chain for t in tier_totals)
    return SalesSection(bucket=bucket, rows=sales, tiers=tier_totals, gateway=gateway, on_chain=on_chain,
                        total=gateway + on_chain)


def _checkins(session: Session, event: Event, block_times: BlockTimes) -> CheckinSection:
    admissions = session.exec(select(Admission.token_id, Admission.scanned_at, Admission.gate_key_id, ApiKey.label)
                              .join(ApiKey, ApiKey.id == Admission.gate_key_id)  # type: ignore[arg-type]
                              .where(Admission.event_id == event.id)).all()
    admitted = {token_id for token_id, _, _, _ in admissions}
    chain_only = [(token_id, block) for token_id, block in session.exec(
        select(Checkin.token_id, Checkin.block_number).where(Checkin.event_id == event.id)).all()
        if token_id not in admitted]
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
        return minute is None, minute or datetime.min.replace(tzinfo=timezone.utc), gate == ON_CHAIN, gate

    rows = [CheckinRow(minute=minute, gate=gate, gate_label=labels[gate], count=n)
            for (gate, minute), n in sorted(counts.items(), key=order)]
    per_gate: Counter[str] = Counter()
    for row in rows:
        per_gate[row.gate] += row.count
    gates = [GateCheckins(gate=gate, gate_label=labels[gate], count=n)
             for gate, n in sorted(per_gate.items(), key=lambda g: (g[0] == ON_CHAIN, labels[g[0]] or "", g[0]))]
    return CheckinSection(rows=rows, gates=gates, through_gates=len(admissions), on_chain=len(chain_only),
                          total=len(admissions) + len(chain_only))


def _ratio(price: int, cap: int | None) -> float | None:
    return price / cap if cap else None


def _resale(session: Session, event: Event, block_times: BlockTimes) -> ResaleSection:
    sales: list[ResaleSale] = []
    settled = session.exec(
        select(ResaleSettlement.id, ResaleSettlement.created_at, ResaleSettlement.price_wei, ResaleListing.cap_wei,
               Ticket.token_id, Ticket.tier_id, ResaleSettlement.royalty_wei)
        .join(ResaleListing, ResaleListing.id == ResaleSettlement.listing_id)  # type: ignore[arg-type]
        .join(Ticket, Ticket.id == ResaleSettlement.ticket_id)  # type: ignore[arg-type]
        .where(Ticket.event_id == event.id, ResaleSettlement.status == "done")).all()
    for sale_id, created, price, cap, token_id, tier_id, royalty in settled:
        sales.append(ResaleSale(id=sale_id, channel="gateway", sold_at=_utc(created), token_id=token_id,
                                tier_id=tier_id, price_wei=price, cap_wei=cap,
                                ratio=_ratio(int(price), int(cap)), royalty_wei=royalty))
    on_chain = session.exec(select(ChainEvent.id, ChainEvent.block_number, ChainEvent.token_id, ChainEvent.price_wei)
                            .where(ChainEvent.chain_id == event.chain_id,
                                   ChainEvent.contract == event.collection_address,
                                   ChainEvent.name == "ResaleBought")).all()
    if on_chain:
        tier_of = dict(session.exec(select(Ticket.token_id, Ticket.tier_id).where(Ticket.event_id == event.id)).all())
        times = block_times(block for _, block, _, _ in on_chain)
        for row_id, block, token_id, price in on_chain:
            sales.append(ResaleSale(id=row_id, channel="on_chain", sold_at=times.get(block), token_id=int(token_id),
                                    tier_id=tier_of.get(int(token_id)), price_wei=price or "0", cap_wei=None,
                                    ratio=None))
    sales.sort(key=lambda s: (s.sold_at is None, s.sold_at or datetime.min.replace(tzinfo=timezone.utc), s.token_id))
    ratios = [s.ratio for s in sales if s.ratio is not None]
    return ResaleSection(sold=len(sales), volume_wei=str(sum(int(s.price_wei) for s in sales)),
                         royalty_wei=str(sum(int(s.royalty_wei or 0) for s in sales
                                             if s.channel == "gateway")),
                         max_ratio=max(ratios) if ratios else None, sales=sales)


def _badges(session: Session, event: Event) -> BadgeSection:
    revoked_flags = session.exec(select(Badge.revoked).where(Badge.event_id == event.id)).all()
    revoked = sum(1 for r in revoked_flags if r)
    return BadgeSection(issued=len(revoked_flags), revoked=revoked, held=len(revoked_flags) - revoked)


def event_report(*, session: Session, event: Event, block_times: BlockTimes, bucket: Bucket | None = None,
                 now: datetime | None = None) -> EventReport:
    """The report of one event (the caller checks it is the organiser's). Reads only.

    `bucket` fixes the sales bucket; by default it follows the span of the sales (`choose_bucket`).
    `block_times` times on-chain check-ins and resales (`chain_block_times(runtime.chain)`).
    """
    tiers = {t.tier_id: t for t in session.exec(select(Tier).where(Tier.event_id == event.id)).all()}
    indexed = session.exec(select(IndexerContract.indexed_to).where(
        IndexerContract.chain_id == event.chain_id, IndexerContract.address == event.collection_address)).first()
    return EventReport(event_id=event.id, event_name=event.name, generated_at=now or utcnow(),
                       indexed_to_block=indexed,
                       sales=_sales(session, event, tiers, bucket),
                       checkins=_checkins(session, event, block_times),
                       resale=_resale(session, event, block_times),
                       badges=_badges(session, event))
