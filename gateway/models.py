"""Database tables and API schemas: per entity Base -> Create -> table -> Public. UUID keys everywhere.

Amounts in wei are stored and returned as decimal strings (they overflow 64-bit integers and JSON
numbers); requests accept integers.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import StringConstraints

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

MAX_WEI = 2**256 - 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    role: str = Field(max_length=16)  # organiser | gate
    event_id: uuid.UUID | None = Field(default=None, foreign_key="events.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class GateKeyCreated(SQLModel):
    id: uuid.UUID
    event_id: uuid.UUID
    role: str
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
    email: Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None


class Fan(SQLModel, table=True):
    __tablename__ = "fan_accounts"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    address: str = Field(max_length=42, unique=True)
    encrypted_key: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    # An external wallet the fan proved they control (POST /fans/me/wallet); one fan per wallet.
    wallet_address: str | None = Field(default=None, max_length=42, unique=True, index=True)
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


# ---- issuance (organiser mints to fans), idempotent
class IssueRequest(SQLModel):
    fan_id: uuid.UUID
    tier_id: int = Field(ge=0, lt=2**16)
    quantity: int = Field(default=1, ge=1, le=50)
    payment_reference: str = Field(min_length=1, max_length=200)


class _RecordedSend(SQLModel):
    """What every idempotent operator send keeps: the caller's key, the request's hash, and the signed
    transaction with its hash, on record before it is broadcast (services/sending.py, recovery.py)."""

    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=16)  # pending | done | failed
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
    status: str
    tx_hash: str | None


# ---- resale listings (off chain; settled later by a paid gateway transfer), idempotent
class ResaleRequest(SQLModel):
    price_wei: int = Field(ge=0, le=MAX_WEI)


class ResaleListing(SQLModel, table=True):
    __tablename__ = "resale_listings"
    __table_args__ = (UniqueConstraint("seller_fan_id", "idempotency_key"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", index=True)
    seller_fan_id: uuid.UUID = Field(foreign_key="fan_accounts.id")
    price_wei: str = Field(max_length=80)
    cap_wei: str = Field(max_length=80)
    status: str = Field(default="active", max_length=16)  # active | replaced | cancelled | sold
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ResaleListingPublic(SQLModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    price_wei: str
    cap_wei: str
    status: str


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
    payment_reference: str = Field(max_length=200)
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=16)  # pending | done
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
    payment_reference: str
    status: str
    tx_hash: str | None


Role = Literal["organiser", "gate"]


# ---- operator nonces
class OperatorNonce(SQLModel, table=True):
    """The next nonce of an operator account, shared by every gateway process on the database."""

    __tablename__ = "operator_nonces"
    chain_id: int = Field(primary_key=True)
    address: str = Field(max_length=42, primary_key=True)
    next_nonce: int
