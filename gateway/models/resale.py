"""Resale: listings (off chain) and their settlement by a paid gateway transfer."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from .common import SendStatus, Wei, utcnow


class ListingStatus(StrEnum):
    active = "active"
    settling = "settling"  # bought: its settlement is under way (back to active if it fails)
    replaced = "replaced"  # by a new listing of the same ticket
    cancelled = "cancelled"  # by the seller, or the ticket moved
    sold = "sold"


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
