"""Token metadata (issue 16): an event's public details and the organiser's art. Nothing here is personal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from .common import utcnow

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
