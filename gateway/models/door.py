"""The door (issue 15): an event's entry policy and the details a pass shows, a ticket's place, and the
entries and exits after a ticket's first admission (re-entry, day passes). docs/gate.md "Entry policies"."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .common import utcnow


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
