"""Fans: custodial accounts (no personal data), their sessions, linked wallets, recovery, optional erasable
contact, and their export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from .common import utcnow
from .resale import ResaleListingPublic
from .tickets import FanTicketPublic, FanTransferPublic


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
    # SHA-256 of the fan's one-time recovery code (POST /fans/recover): a new session when every device is
    # lost.
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
