"""The indexer's own tables. Every derived row keeps the block it came from, so a reorg is a DELETE of
the rows above the common ancestor plus a recomputation of the tokens they touched.

Token ids are stored as decimal strings: badge ids are uint256 values that overflow 64-bit integers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..models import utcnow


class IndexerCursor(SQLModel, table=True):
    """The last block indexed on a chain (number AND hash: a different hash there means a reorg)."""

    __tablename__ = "indexer_cursors"
    chain_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    block_number: int
    block_hash: str = Field(max_length=66)
    updated_at: datetime = Field(default_factory=utcnow)


class IndexerBlock(SQLModel, table=True):
    """Recent block hashes (the last `reorg_window` indexed blocks), to find the common ancestor."""

    __tablename__ = "indexer_blocks"
    chain_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    block_number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    block_hash: str = Field(max_length=66)


class IndexerContract(SQLModel, table=True):
    """A watched address and how far its logs are indexed (a newly registered event is backfilled)."""

    __tablename__ = "indexer_contracts"
    chain_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    address: str = Field(primary_key=True, max_length=42)
    kind: str = Field(max_length=16)  # collection | badge
    event_id: uuid.UUID | None = Field(default=None, foreign_key="events.id")
    indexed_to: int


class ChainEvent(SQLModel, table=True):
    """One decoded log, append-only (rolled back by block on a reorg)."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index"),
        Index("ix_chain_events_token", "chain_id", "contract", "token_id"),
        Index("ix_chain_events_block", "chain_id", "block_number"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    chain_id: int
    block_number: int
    block_hash: str = Field(max_length=66)
    log_index: int
    tx_hash: str = Field(max_length=66)
    contract: str = Field(max_length=42)
    name: str = Field(max_length=32)
    token_id: str | None = Field(default=None, max_length=78)
    from_address: str | None = Field(default=None, max_length=42)
    to_address: str | None = Field(default=None, max_length=42)
    price_wei: str | None = Field(default=None, max_length=80)
    tier_id: int | None = (
        None  # on a mint's Transfer: the tier, from the transaction's TicketsMinted/Purchased
    )
    args: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # other events: JSON


class IndexedToken(SQLModel, table=True):
    """A token's state as the chain says, folded from chain_events (tickets and badges)."""

    __tablename__ = "indexed_tokens"
    __table_args__ = (UniqueConstraint("chain_id", "contract", "token_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    chain_id: int
    contract: str = Field(max_length=42)
    token_id: str = Field(max_length=78)
    kind: str = Field(max_length=16)  # ticket | badge
    tier_id: int | None = None
    owner: str = Field(max_length=42)
    used: bool = False
    burned: bool = False
    listed_by: str | None = Field(default=None, max_length=42)
    listed_price_wei: str | None = Field(default=None, max_length=80)
    block_number: int  # the block of the last event applied


# ---- records derived from the chain for the API: check-ins and attendance badges (Base -> table -> Public)
class CheckinBase(SQLModel):
    """A ticket admitted at the gate (a collection's CheckedIn log)."""

    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    ticket_id: uuid.UUID | None = Field(
        default=None, foreign_key="tickets.id"
    )  # None: no gateway record (yet)
    chain_id: int
    contract: str = Field(max_length=42)
    token_id: int
    holder: str = Field(max_length=42)
    block_number: int
    tx_hash: str = Field(max_length=66)
    log_index: int


class Checkin(CheckinBase, table=True):
    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index"),
        Index("ix_checkins_block", "chain_id", "block_number"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)


class CheckinPublic(CheckinBase):
    id: uuid.UUID


class BadgeBase(SQLModel):
    """An attendance badge issued (the badge's Transfer from zero); `revoked` once BadgeRevoked is seen.

    `event_id` is the gateway event whose collection is the badge event's issuer (None: not registered here).
    """

    event_id: uuid.UUID | None = Field(default=None, foreign_key="events.id", index=True)
    chain_id: int
    contract: str = Field(max_length=42)
    token_id: str = Field(max_length=78)
    holder: str = Field(max_length=42)
    fan_id: uuid.UUID | None = Field(default=None, foreign_key="fan_accounts.id", index=True)
    revoked: bool = False
    block_number: int  # the block it was issued in


class Badge(BadgeBase, table=True):
    __tablename__ = "badges"
    __table_args__ = (
        UniqueConstraint("chain_id", "contract", "token_id"),
        Index("ix_badges_block", "chain_id", "block_number"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)


class BadgePublic(BadgeBase):
    id: uuid.UUID
