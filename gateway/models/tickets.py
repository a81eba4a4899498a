"""Tickets, and the idempotent sends that move them: issuance (the organiser mints to fans) and transfers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from .common import Count, SendStatus, utcnow


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


class FanTransferPublic(TransferPublic):
    from_fan: uuid.UUID
    created_at: datetime
