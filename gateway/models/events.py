"""Events (a collection on one chain) and their tiers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from .common import utcnow


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
