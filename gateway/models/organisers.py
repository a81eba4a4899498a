"""Organisers and their API keys (role `organiser` or `gate`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import AutoString, Field, SQLModel

from .common import utcnow


class Role(StrEnum):
    """An API key's role: `organiser` all of the organiser's events; `gate` one event's check-in."""

    organiser = "organiser"
    gate = "gate"


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
