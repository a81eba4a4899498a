"""Database tables and API schemas: per entity Base -> Create -> table -> Public. UUID keys everywhere.

Amounts in wei are stored and returned as decimal strings (they overflow 64-bit integers and JSON
numbers); requests accept integers or decimal strings, never booleans or fractions (`Wei`). Request counts are
strict integers and request times strict date-time strings within a sane range (`Count`, `Instant`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Strict, StringConstraints

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from ticketkit.tx import TxStatus

from .core.gate_rules import GateReason

MAX_WEI = 2**256 - 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _amount(value: object) -> object:
    """An amount in wei: an integer or a string of decimal digits; `true` or `1.5` is not an amount."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("an amount in wei is an integer or a string of decimal digits")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 78:
            raise ValueError("an amount in wei is an integer or a string of decimal digits")
        return int(value)
    return value


def _date_time_text(value: object) -> object:
    """A date-time is a string (RFC 3339), as the schema says: not a number of seconds."""
    if not isinstance(value, (str, datetime)):
        raise ValueError("a date-time string, e.g. 2026-07-04T19:42:00+02:00")
    return value


def _sane_instant(value: datetime) -> datetime:
    """Within years 2000-2999 once in UTC (converting far-off times with an offset overflows)."""
    try:
        utc = value.astimezone(timezone.utc) if value.tzinfo else value
    except OverflowError:
        raise ValueError("a date-time between the years 2000 and 2999") from None
    if not 2000 <= utc.year <= 2999:
        raise ValueError("a date-time between the years 2000 and 2999")
    return value


Wei = Annotated[int, BeforeValidator(_amount), Field(ge=0, le=2**256 - 1)]
Count = Annotated[int, Strict()]
Instant = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_sane_instant)]


# ---- the closed lists of values, stored as the same strings (a VARCHAR column, `sa_type=AutoString`: no
# database enum type) and listed in the OpenAPI document. Rows read back hold plain strings, equal to these.
class Role(StrEnum):
    """An API key's role: `organiser` all of the organiser's events; `gate` one event's check-in."""

    organiser = "organiser"
    gate = "gate"


class SendStatus(StrEnum):
    """An idempotent operator send's record (issuances, transfers, resale settlements, check-in batches):
    pending until its transaction is final; failed (a transfer, a check-in batch) when it did not go through."""

    pending = "pending"
    done = "done"
    failed = "failed"


class ListingStatus(StrEnum):
    active = "active"
    settling = "settling"  # bought: its settlement is under way (back to active if it fails)
    replaced = "replaced"  # by a new listing of the same ticket
    cancelled = "cancelled"  # by the seller, or the ticket moved
    sold = "sold"


class QueueState(StrEnum):
    """An admission's way to the chain (services/checkin_queue.py): queued -> sent (in a batch) -> done;
    cancelled if the event is cancelled on chain."""

    queued = "queued"
    sent = "sent"
    done = "done"
    cancelled = "cancelled"


# ---- organisers and API keys
class OrganiserBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)


class OrganiserCreate(OrganiserBase):
    pass


class Organiser(OrganiserBase, table=True):
    __tablename__ = "organisers"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class OrganiserPublic(OrganiserBase):
    id: uuid.UUID


class OrganiserCreated(OrganiserPublic):
    api_key: str  # shown once


class ApiKey(SQLModel, table=True):
    """A hashed API key. role `organiser`: all of the organiser's events; `gate`: one event's check-in."""

    __tablename__ = "api_keys"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organiser_id: uuid.UUID = Field(foreign_key="organisers.id", index=True)
    key_hash: str = Field(max_length=64, unique=True)
    role: Role = Field(sa_type=AutoString(16))
    event_id: uuid.UUID | None = Field(default=None, foreign_key="events.id")
    label: str | None = Field(default=None, max_length=100)  # a gate's name ("North door"), for reports
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class ApiKeyCreate(SQLModel):
    label: str | None = Field(default=None, min_length=1, max_length=100)  # "North door", "box office"


class ApiKeyPublic(SQLModel):
    """An API key as listed: never the key itself (only its hash is stored)."""

    id: uuid.UUID
    role: Role
    event_id: uuid.UUID | None = None
    label: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyPublic):
    api_key: str  # shown once


class GateEventPublic(SQLModel):
    """What a gate key may read about its one event (GET /gate/events/{id})."""

    id: uuid.UUID
    name: str | None
    chain_id: int
    collection_address: str


# ---- events and tiers
class EventBase(SQLModel):
    name: str | None = Field(default=None, max_length=200)


class EventCreate(EventBase):
    collection_address: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]


class Event(EventBase, table=True):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("chain_id", "collection_address"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organiser_id: uuid.UUID = Field(foreign_key="organisers.id", index=True)
    chain_id: int
    collection_address: str = Field(max_length=42)
    badge_address: str | None = Field(default=None, max_length=42)
    created_at: datetime = Field(default_factory=utcnow)


class TierBase(SQLModel):
    tier_id: int
    name: str
    face_value_wei: str
    supply: int
    max_per_wallet: int


class Tier(TierBase, table=True):
    __tablename__ = "tiers"
    __table_args__ = (UniqueConstraint("event_id", "tier_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)


class TierPublic(TierBase):
    pass


class EventPublic(EventBase):
    id: uuid.UUID
    chain_id: int
    collection_address: str
    badge_address: str | None
    tiers: list[TierPublic] = []


# ---- fans (custodial accounts; no personal data) and their optional, erasable contact
class FanCreate(SQLModel):
    email: Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )


class Fan(SQLModel, table=True):
    __tablename__ = "fan_accounts"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    address: str = Field(max_length=42, unique=True)
    encrypted_key: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    # An external wallet the fan proved they control (POST /fans/me/wallet); one fan per wallet.
    wallet_address: str | None = Field(default=None, max_length=42, unique=True, index=True)
    # SHA-256 of the fan's one-time recovery code (POST /fans/recover): a new session when every device is lost.
    recovery_hash: str | None = Field(default=None, max_length=64, repr=False)
    created_at: datetime = Field(default_factory=utcnow)


class WalletChallenge(SQLModel, table=True):
    """A one-time nonce and the message a fan's wallet signs to link itself; burnt by `used_at`."""

    __tablename__ = "wallet_challenges"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id", index=True)
    nonce: str = Field(max_length=64, unique=True)
    message: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class WalletChallengePublic(SQLModel):
    nonce: str
    message: str
    expires_at: datetime


class WalletLinkRequest(SQLModel):
    address: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]
    nonce: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None  # default: the latest


class FanSession(SQLModel, table=True):
    __tablename__ = "fan_sessions"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None  # refreshed at most hourly; idle past fan_session_idle_days: expired


class FanContact(SQLModel, table=True):
    __tablename__ = "fan_contacts"
    fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id", primary_key=True)
    email: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow)


class FanIdentity(SQLModel):
    id: uuid.UUID
    address: str


class FanPublic(FanIdentity):
    wallet_address: str | None = None


class FanCreated(FanIdentity):
    session_token: str  # shown once
    recovery_code: str  # shown once: keep it safe, it gets the account back when every device is lost


class FanSessionPublic(SQLModel):
    """A fan's session (one per device), as listed: never the token (only its hash is stored)."""

    id: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class FanSessionCreated(FanSessionPublic):
    session_token: str  # shown once


class RecoverRequest(SQLModel):
    recovery_code: Annotated[str, StringConstraints(min_length=1, max_length=128)]  # names its account
    # Sign every other device out (the usual reason to recover is a lost or stolen phone).
    sign_out_everywhere: bool = True


class RecoveryCode(SQLModel):
    recovery_code: str  # shown once; the one before it no longer works


class FanRecovered(FanSessionCreated):
    recovery_code: str  # the next one, shown once: a recovery code works once


# ---- tickets
class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("chain_id", "contract", "token_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    chain_id: int
    contract: str = Field(max_length=42)
    token_id: int
    tier_id: int
    owner_fan_id: uuid.UUID | None = Field(default=None, foreign_key="fan_accounts.id", index=True)
    issuance_id: uuid.UUID | None = Field(default=None, foreign_key="issuances.id")
    created_at: datetime = Field(default_factory=utcnow)


class TicketPublic(SQLModel):
    id: uuid.UUID
    event_id: uuid.UUID
    chain_id: int
    contract: str
    token_id: int
    tier_id: int


class TicketDoor(SQLModel):
    """What a pass shows beyond the ticket (gate.ticket_doors): the event's details, the ticket's place, its
    check-in. Times are UTC; `timezone` is the event's, to show them in."""

    venue: str | None = None
    timezone: str = "UTC"
    starts_at: datetime | None = None
    doors_at: datetime | None = None
    entry_policy: str = "single"
    entry_days: list[str] = []
    section: str | None = None
    row: str | None = None
    seat: str | None = None
    checked_in_at: datetime | None = None
    checked_in_gate: str | None = None  # the gate key's label


class FanTicketPublic(TicketPublic):
    """A ticket as its holder sees it (GET /fans/me/tickets, GET /tickets/{id})."""

    event_name: str | None = None
    tier_name: str | None = None
    checked_in: bool = False
    door: TicketDoor | None = None


# ---- issuance (organiser mints to fans), idempotent
class IssueRequest(SQLModel):
    fan_id: uuid.UUID
    tier_id: Count = Field(ge=0, lt=2**16)
    quantity: Count = Field(default=1, ge=1, le=50)
    payment_reference: str = Field(min_length=1, max_length=200)


class _RecordedSend(SQLModel):
    """What every idempotent operator send keeps: the caller's key, the request's hash, and the signed
    transaction with its hash, on record before it is broadcast (services/sending.py, recovery.py)."""

    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: SendStatus = Field(default=SendStatus.pending, sa_type=AutoString(16))
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: str | None = Field(default=None, sa_type=Text, repr=False)
    error: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class Issuance(_RecordedSend, table=True):
    __tablename__ = "issuances"
    __table_args__ = (UniqueConstraint("organiser_id", "idempotency_key"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organiser_id: uuid.UUID = Field(foreign_key="organisers.id")
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    tier_id: int
    quantity: int
    payment_reference: str = Field(max_length=200)


class IssuancePublic(SQLModel):
    id: uuid.UUID
    event_id: uuid.UUID
    fan_id: uuid.UUID
    payment_reference: str
    status: SendStatus  # pending (its transaction is not final yet: `tickets` is empty) | done
    tx_hash: str | None
    tickets: list[TicketPublic]


# ---- transfers (gifts now; paid gateway transfers later), idempotent
class GiftRequest(SQLModel):
    to_fan: uuid.UUID


class Transfer(_RecordedSend, table=True):
    __tablename__ = "transfers"
    __table_args__ = (UniqueConstraint("from_fan_id", "idempotency_key"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", index=True)
    from_fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    to_fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    kind: str = Field(default="gift", max_length=16)
    price_wei: str = "0"


class TransferPublic(SQLModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    to_fan: uuid.UUID
    kind: str
    price_wei: str
    status: SendStatus
    tx_hash: str | None


# ---- resale listings (off chain; settled later by a paid gateway transfer), idempotent
class ResaleRequest(SQLModel):
    price_wei: Wei


class ResaleListing(SQLModel, table=True):
    __tablename__ = "resale_listings"
    __table_args__ = (UniqueConstraint("seller_fan_id", "idempotency_key"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", index=True)
    seller_fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    price_wei: str = Field(max_length=80)
    cap_wei: str = Field(max_length=80)
    status: ListingStatus = Field(default=ListingStatus.active, sa_type=AutoString(16))
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ResaleListingPublic(SQLModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    price_wei: str
    cap_wei: str
    status: ListingStatus


class ListingOffer(SQLModel):
    """A public view of an active listing (GET /events/{id}/listings)."""

    id: uuid.UUID
    ticket_id: uuid.UUID
    token_id: int
    tier_id: int
    price_wei: str
    cap_wei: str


# ---- resale settlement (the buyer pays off chain; the gateway sends a paid gatewayTransfer), idempotent
class BuyRequest(SQLModel):
    payment_reference: str = Field(min_length=1, max_length=200)


class ResaleSettlement(SQLModel, table=True):
    """One purchase of a listing. Unique per listing: a second buyer is refused while one is settling."""

    __tablename__ = "resale_settlements"
    __table_args__ = (UniqueConstraint("buyer_fan_id", "idempotency_key"), UniqueConstraint("listing_id"))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    listing_id: uuid.UUID = Field(foreign_key="resale_listings.id")
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", index=True)
    seller_fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    buyer_fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    price_wei: str = Field(max_length=80)
    # What the organiser is owed on this resale: ERC-2981 royaltyInfo(token, price), read when the sale was
    # recorded (the price is paid off chain, so the contract cannot pay it). None: recorded before 0012.
    royalty_wei: str | None = Field(default=None, max_length=80)
    royalty_receiver: str | None = Field(default=None, max_length=42)
    payment_reference: str = Field(max_length=200)
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: SendStatus = Field(default=SendStatus.pending, sa_type=AutoString(16))  # pending | done
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: str | None = Field(default=None, sa_column=Column(Text, nullable=True), repr=False)
    transfer_id: uuid.UUID | None = Field(default=None, foreign_key="transfers.id")
    created_at: datetime = Field(default_factory=utcnow)


class SettlementPublic(SQLModel):
    id: uuid.UUID
    listing_id: uuid.UUID
    ticket_id: uuid.UUID
    buyer_fan: uuid.UUID
    price_wei: str
    royalty_wei: str | None = None  # owed to `royalty_receiver` (the organiser) out of the price
    royalty_receiver: str | None = None
    payment_reference: str
    status: SendStatus
    tx_hash: str | None


# ---- the outbox of the one transaction pipeline (ticketkit.tx; gateway/services/sending.py)
class ChainTransaction(SQLModel, table=True):
    """One operator transaction, recorded in the same database transaction as the write it serves (`kind`,
    `record_id`) before anything is signed. The sending worker signs it (`nonce`, `attempts`: every signed
    version with its fees), broadcasts, replaces and confirms it, and applies its outcome to the record exactly
    once (`applied`). Its status is the pipeline's (ticketkit.tx.TxStatus)."""

    __tablename__ = "chain_transactions"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    chain_id: int
    sender: str = Field(max_length=42)
    kind: str = Field(max_length=16)  # issuance | gift | settlement | checkin | filler
    record_id: uuid.UUID | None = Field(default=None, index=True)
    to: str | None = Field(default=None, max_length=42)
    data: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    value: str = Field(default="0", max_length=78)
    gas: int
    nonce: int | None = None
    status: TxStatus = Field(default=TxStatus.queued, sa_type=AutoString(16), index=True)
    attempts: str = Field(default="[]", sa_column=Column(Text, nullable=False), repr=False)  # JSON
    mined_hash: str | None = Field(default=None, max_length=66)
    mined_block: int | None = None
    mined_block_hash: str | None = Field(default=None, max_length=66)
    gas_used: int | None = None
    effective_gas_price: str | None = Field(default=None, max_length=78)
    waiting: str | None = Field(default=None, max_length=300)  # why it is not sent (the fee ceiling)
    error: str | None = Field(default=None, max_length=300)
    reorgs: int = 0
    resends: int = 0
    applied: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---- the gate: device keys bound to tickets, admissions (the check-in record and the queue to the chain),
# the batches that carry them on chain, and conflicts between offline gates
class DeviceKey(SQLModel, table=True):
    """A P-256 public key of the holder's device, bound to one ticket; it signs the rotating QR codes.

    Bound by the gateway for account holders, by a wallet signature for self-custody holders. `holder` is
    the ticket's owner at binding time: once the ticket moves, the key no longer admits. Rebinding
    revokes the previous key (`revoked_at`), which offline snapshots list.
    """

    __tablename__ = "device_keys"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", index=True)
    public_key: str = Field(max_length=100)  # base64url of the 65-byte uncompressed point
    holder: str = Field(max_length=42)
    bound_by: str = Field(max_length=16)  # gateway | wallet
    created_at: datetime = Field(default_factory=utcnow, index=True)  # indexed: snapshot deltas
    revoked_at: datetime | None = Field(default=None, index=True)


class Admission(SQLModel, table=True):
    """A ticket admitted at a gate: the one atomic check-in write (unique per ticket), and the durable
    queue to the chain (`chain_status` queued -> sent -> done; `cancelled` if the event is cancelled on chain)."""

    __tablename__ = "gate_admissions"
    __table_args__ = (UniqueConstraint("ticket_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    token_id: int
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")
    device: str | None = Field(default=None, max_length=100)
    source: str = Field(default="online", max_length=16)  # online | offline
    nonce: str | None = Field(
        default=None, max_length=64
    )  # the gate's id of this scan: a retry is answered again
    scanned_at: datetime = Field(default_factory=utcnow)  # by the gate's clock for offline scans
    admitted_at: datetime = Field(default_factory=utcnow, index=True)  # indexed: snapshot deltas
    chain_status: QueueState = Field(default=QueueState.queued, sa_type=AutoString(16), index=True)
    batch_id: uuid.UUID | None = Field(default=None, foreign_key="checkin_batches.id")


class CheckinBatch(SQLModel, table=True):
    """One batch check-in transaction, on record (signed bytes and hash) before it is broadcast."""

    __tablename__ = "checkin_batches"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    token_ids: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    status: SendStatus = Field(default=SendStatus.pending, sa_type=AutoString(16))
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: str | None = Field(default=None, sa_column=Column(Text, nullable=True), repr=False)
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class GateConflict(SQLModel, table=True):
    """A ticket admitted twice while gates were offline: both admissions named, nothing merged. One row per
    offline scan (unique), so syncing the same scan again adds nothing."""

    __tablename__ = "gate_conflicts"
    __table_args__ = (UniqueConstraint("ticket_id", "gate_key_id", "device", "scanned_at"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    admission_id: uuid.UUID = Field(foreign_key="gate_admissions.id")  # the one that counted
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")  # the other gate
    device: str = Field(max_length=100)  # the other gate's device (offline scans always name one)
    scanned_at: datetime  # by the other gate's clock
    created_at: datetime = Field(default_factory=utcnow)


class GateRefusal(SQLModel, table=True):
    """A refused scan, with its reason (online scans, and offline scans whose code failed at sync)."""

    __tablename__ = "gate_refusals"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id")  # None: no such ticket
    reason: GateReason = Field(sa_type=AutoString(32))
    device: str | None = Field(default=None, max_length=100)
    source: str = Field(default="online", max_length=16)  # online | offline
    scanned_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)


# ---- the door (issue 15): an event's entry policy and the details a pass shows, a ticket's place, and the
# entries and exits after a ticket's first admission (re-entry, day passes). docs/gate.md "Entry policies".
class EventDoorBase(SQLModel):
    entry_policy: str = Field(default="single", max_length=16)  # single | reentry | days
    timezone: str = Field(default="UTC", max_length=64)  # IANA: the event's; days and times are in it
    venue: str | None = Field(default=None, max_length=200)
    starts_at: datetime | None = None
    doors_at: datetime | None = None
    offline_unlisted: str = Field(
        default="refuse", max_length=16
    )  # refuse | admit: a ticket not in a gate's list


class EventDoor(EventDoorBase, table=True):
    """One per event (none: single entry, UTC, no details)."""

    __tablename__ = "event_doors"
    event_id: uuid.UUID = Field(foreign_key="events.id", primary_key=True)
    entry_days: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of ISO dates
    tier_policies: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON {tier_id: policy}
    updated_at: datetime = Field(default_factory=utcnow)


class EventDoorSet(SQLModel):
    """PUT /events/{id}/door: every field (what is left out takes its default)."""

    entry_policy: Literal["single", "reentry", "days"] = "single"
    entry_days: list[date] = Field(default=[], max_length=60)
    # a tier's own policy, over the event's
    tier_policies: dict[int, Literal["single", "reentry", "days"]] = Field(default={}, max_length=100)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    venue: str | None = Field(default=None, max_length=200)
    starts_at: datetime | None = None
    doors_at: datetime | None = None
    offline_unlisted: Literal["refuse", "admit"] = "refuse"


class EventDoorPublic(EventDoorBase):
    event_id: uuid.UUID
    entry_days: list[str]
    tier_policies: dict[int, str] = {}


class TicketPlaceBase(SQLModel):
    section: str | None = Field(default=None, max_length=50)
    row: str | None = Field(default=None, max_length=20)
    seat: str | None = Field(default=None, max_length=20)


class TicketPlace(TicketPlaceBase, table=True):
    """Where a ticket sits, when it has a place (none: standing / free seating)."""

    __tablename__ = "ticket_places"
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", primary_key=True)


class TicketPlacePublic(TicketPlaceBase):
    ticket_id: uuid.UUID


class GateEntry(SQLModel, table=True):
    """An entry or exit after a ticket's first admission (gate_admissions, the check-in, stays the first).
    `slot` names it (`entry:2`, `exit:1`, `day:2026-07-04`): unique per ticket, so of simultaneous scans
    for one entry exactly one inserts the row."""

    __tablename__ = "gate_entries"
    __table_args__ = (UniqueConstraint("ticket_id", "slot"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    slot: str = Field(max_length=32)
    direction: str = Field(max_length=8)  # entry | exit
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")
    device: str | None = Field(default=None, max_length=100)
    source: str = Field(default="online", max_length=16)  # online | offline
    nonce: str | None = Field(default=None, max_length=64)
    scanned_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow, index=True)  # indexed: snapshot deltas


# gate API schemas (docs/gate.md is the specification of every field)
B64Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{87}$")]  # 65-byte point, base64url


class DeviceBindRequest(SQLModel):
    """Account holders: `public_key` only (with their session). Self-custody holders: all three fields."""

    public_key: B64Key
    wallet_signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")] | None = None
    expires_at: int | None = Field(default=None, ge=0, lt=2**40)  # unix seconds, from GET .../device-message


class DeviceKeyPublic(SQLModel):
    ticket_id: uuid.UUID
    public_key: str
    holder: str
    bound_by: str
    created_at: datetime
    window_seconds: int  # how often the device signs a new code


class DeviceMessage(SQLModel):
    """What a self-custody holder's wallet signs (EIP-191 personal_sign) to bind a device key."""

    ticket_id: uuid.UUID
    message: str
    expires_at: int


class GateVerifyRequest(SQLModel):
    code: str = Field(max_length=512)
    direction: Literal["entry", "exit"] = "entry"  # exit: re-entry events (the policy reentry)


class GateScanRequest(GateVerifyRequest):
    device: str | None = Field(default=None, min_length=1, max_length=100)
    nonce: str | None = Field(default=None, min_length=1, max_length=64)  # the same nonce again: a retry


class GateAnswer(SQLModel):
    admit: bool
    reason: GateReason | None = None  # why not (docs/gate.md lists the reasons)
    ticket_id: uuid.UUID | None = None
    token_id: int | None = None
    tier_id: int | None = None
    tier_name: str | None = None


class GateSnapshot(SQLModel):
    payload: str  # JSON text
    signature: str  # base64url r || s, ECDSA P-256 SHA-256 over the payload's UTF-8 bytes
    public_key: str


class GateSnapshotKey(SQLModel):
    public_key: str


class OfflineScan(SQLModel):
    code: str = Field(max_length=512)
    direction: Literal["entry", "exit"] = "entry"
    scanned_at: Instant  # by the gate's clock; without an offset: UTC
    nonce: str | None = Field(default=None, min_length=1, max_length=64)  # as sent to /gate/scan


class GateSyncRequest(SQLModel):
    device: str = Field(min_length=1, max_length=100)
    scans: list[OfflineScan] = Field(max_length=200)


class AdmissionRef(SQLModel):
    """An admission (or an offline scan) named in a conflict."""

    gate_key_id: uuid.UUID
    gate_label: str | None
    device: str | None
    source: str
    scanned_at: datetime


class OfflineScanResult(SQLModel):
    result: str  # admitted | already_admitted_here | conflict | rejected
    reason: GateReason | None = None  # rejected: why (a refusal reason)
    ticket_id: uuid.UUID | None = None
    token_id: int | None = None
    admitted_by: AdmissionRef | None = None  # conflict: the admission that counts


class GateSyncAnswer(SQLModel):
    results: list[OfflineScanResult]  # in the order of the scans sent


class GateConflictPublic(SQLModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    token_id: int
    counted: AdmissionRef  # the admission on record
    other: AdmissionRef  # the offline scan that admitted the ticket again
    created_at: datetime


# ---- presale: a tier's trusted-attendee rule (badges of the organiser's earlier events) and its snapshots
class PresaleRuleBase(SQLModel):
    kind: str = Field(max_length=16)  # events | last_n
    n: int | None = None  # last_n: how many of the organiser's latest earlier events
    min_events: int  # k: badges needed


class PresaleRuleCreate(SQLModel):
    """PUT body. `events`: gateway event ids; `last_n`: the organiser's n latest events before this one."""

    kind: Literal["events", "last_n"]
    event_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    n: int | None = Field(default=None, ge=1, le=100)
    min_events: int = Field(ge=1, le=100)


class PresaleRule(PresaleRuleBase, table=True):
    """One rule per (event, tier). `last_n` is resolved when the rule is set: the events it stands for are
    stored in `event_ids`, so answers and snapshots do not shift when another event is registered."""

    __tablename__ = "presale_rules"
    __table_args__ = (UniqueConstraint("event_id", "tier_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id")
    tier_id: int
    event_ids: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of gateway event ids
    badge_event_ids: str = Field(
        sa_column=Column(Text, nullable=False)
    )  # JSON list, same order: on-chain ids
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PresaleEventRef(SQLModel):
    event_id: uuid.UUID
    name: str | None
    badge_event_id: int


class PresaleRulePublic(PresaleRuleBase):
    event_id: uuid.UUID
    tier_id: int
    events: list[PresaleEventRef]


class PresaleEligibility(SQLModel):
    """Whether `address` passes the rule by its badges now (revoked ones do not count), and why."""

    address: str
    eligible: bool
    min_events: int
    counted: list[PresaleEventRef]
    missing: list[PresaleEventRef]
    in_snapshot: bool | None = None  # None: no snapshot taken yet


class PresaleSnapshotCreate(SQLModel):
    block: int | None = Field(default=None, ge=0)  # default: the head


class PresaleSnapshot(SQLModel, table=True):
    """The rule's eligible set fixed at a block (ticketkit.presale), with everything needed to recompute it."""

    __tablename__ = "presale_snapshots"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    tier_id: int
    block: int
    root: str = Field(max_length=66)
    badge_address: str = Field(max_length=42)
    badge_event_ids: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    min_events: int
    addresses: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, checksummed, sorted
    created_at: datetime = Field(default_factory=utcnow)


class PresaleSnapshotPublic(SQLModel):
    id: uuid.UUID
    block: int
    root: str
    count: int
    published: bool  # the tier's on-chain presaleRoot is this root
    publish_command: str  # how the organiser publishes it (the gateway holds no admin key)


class PresaleSnapshotDetail(PresaleSnapshotPublic):
    """GET: enough for anyone to recompute the root from the chain."""

    badge_address: str
    badge_event_ids: list[int]
    min_events: int
    addresses: list[str]


class PresaleProof(SQLModel):
    address: str
    root: str
    block: int
    proof: list[str]
    published: bool


class FanTransferPublic(TransferPublic):
    from_fan: uuid.UUID
    created_at: datetime


class FanExport(SQLModel):
    """Everything the gateway keeps about a fan (GET /fans/me/export). On chain are only addresses and the
    tickets' movements. The custodial key is never exported: it stays encrypted at rest."""

    account: FanPublic
    created_at: datetime
    email: str | None
    sessions: list[FanSessionPublic]
    tickets: list[FanTicketPublic]
    transfers: list[FanTransferPublic]  # sent and received: gifts and resale settlements
    listings: list[ResaleListingPublic]


# ---- token metadata (issue 16): an event's public details and the organiser's art. Nothing here is personal.
ART_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


class EventDetailsBase(SQLModel):
    """What wallets and the organiser's dashboard show about an event beyond the chain (public)."""

    venue: str | None = Field(default=None, max_length=200)
    timezone: str = Field(
        default="UTC", max_length=64
    )  # IANA name ("Europe/London"): dates in metadata, charts
    description: str | None = Field(default=None, max_length=1000)


class EventDetailsUpdate(EventDetailsBase):
    venue: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None


class EventDetails(EventDetailsBase, table=True):
    __tablename__ = "event_details"
    event_id: uuid.UUID = Field(foreign_key="events.id", primary_key=True)
    updated_at: datetime = Field(default_factory=utcnow)


class EventDetailsPublic(EventDetailsBase):
    event_id: uuid.UUID


class EventArt(SQLModel, table=True):
    """An image the organiser uploaded for the event's tickets (all, or one tier) or its badges; served by its
    digest (`/art/{sha256}`), so it can be cached for good."""

    __tablename__ = "event_art"
    __table_args__ = (UniqueConstraint("event_id", "scope"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id")
    scope: str = Field(max_length=16)  # "ticket" (every tier) | "tier:<id>" | "badge"
    content_type: str = Field(max_length=32)
    sha256: str = Field(max_length=64, index=True)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False), repr=False)
    created_at: datetime = Field(default_factory=utcnow)


class EventArtPublic(SQLModel):
    scope: str
    content_type: str
    sha256: str
    size: int
    url: str
    created_at: datetime
