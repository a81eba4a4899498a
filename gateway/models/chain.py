"""The outbox of the one transaction pipeline (ticketkit.tx; gateway/services/sending.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import AutoString, Field, SQLModel

from ticketkit.tx import TxStatus

from .common import utcnow


class ChainTransaction(SQLModel, table=True):
    """One operator transaction, recorded in the same database transaction as the write it serves (`kind`,
    `record_id`) before anything is signed. The sending worker signs it (`nonce`, `attempts`: every signed
    version with its fees), broadcasts, replaces and confirms it, and applies its outcome to the record
    exactly once (`applied`). Its status is the pipeline's (ticketkit.tx.TxStatus)."""

    __tablename__ = "chain_transactions"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    chain_id: int
    sender: str = Field(max_length=42)
    kind: str = Field(max_length=16)  # issuance | gift | settlement | checkin | filler
    record_id: uuid.UUID | None = Field(default=None, index=True)
    to: str | None = Field(default=None, max_length=42)
    data: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    value: str = Field(default="0", max_length=78)
    gas: int
    nonce: int | None = None
    status: TxStatus = Field(default=TxStatus.queued, sa_type=AutoString(16), index=True)
    attempts: str = Field(default="[]", sa_column=Column(Text, nullable=False), repr=False)  # JSON
    mined_hash: str | None = Field(default=None, max_length=66)
    mined_block: int | None = None
    mined_block_hash: str | None = Field(default=None, max_length=66)
    gas_used: int | None = None
    effective_gas_price: str | None = Field(default=None, max_length=78)
    waiting: str | None = Field(default=None, max_length=300)  # why it is not sent (the fee ceiling)
    error: str | None = Field(default=None, max_length=300)
    reorgs: int = 0
    resends: int = 0
    applied: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
