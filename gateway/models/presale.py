"""Presale: a tier's trusted-attendee rule (badges of the organiser's earlier events) and its snapshots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .common import utcnow


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
    """The rule's eligible set fixed at a block (ticketkit.presale), with everything needed to recompute
    it."""

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
