"""The gate: device keys bound to tickets, admissions (the check-in record and the queue to the chain), the
batches that carry them on chain, conflicts between offline gates, refusals, and the gate API's schemas
(docs/gate.md is the specification of every field)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from ..core.gate_rules import GateReason
from .common import Instant, SendStatus, utcnow


class QueueState(StrEnum):
    """An admission's way to the chain (services/checkin_queue.py): queued -> sent (in a batch) -> done;
    cancelled if the event is cancelled on chain."""

    queued = "queued"
    sent = "sent"
    done = "done"
    cancelled = "cancelled"


class GateEventPublic(SQLModel):
    """What a gate key may read about its one event (GET /gate/events/{id})."""

    id: uuid.UUID
    name: str | None
    chain_id: int
    collection_address: str


class DeviceKey(SQLModel, table=True):
    """A P-256 public key of the holder's device, bound to one ticket; it signs the rotating QR codes.

    Bound by the gateway for account holders, by a wallet signature for self-custody holders. `holder` is
    the ticket's owner at binding time: once the ticket moves, the key no longer admits. Rebinding
    revokes the previous key (`revoked_at`), which offline snapshots list.
    """

    __tablename__ = "device_keys"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", index=True)
    public_key: str = Field(max_length=100)  # base64url of the 65-byte uncompressed point
    holder: str = Field(max_length=42)
    bound_by: str = Field(max_length=16)  # gateway | wallet
    created_at: datetime = Field(default_factory=utcnow, index=True)  # indexed: snapshot deltas
    revoked_at: datetime | None = Field(default=None, index=True)


class Admission(SQLModel, table=True):
    """A ticket admitted at a gate: the one atomic check-in write (unique per ticket), and the durable queue
    to the chain (`chain_status` queued -> sent -> done; `cancelled` if the event is cancelled on chain)."""

    __tablename__ = "gate_admissions"
    __table_args__ = (UniqueConstraint("ticket_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    token_id: int
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")
    device: str | None = Field(default=None, max_length=100)
    source: str = Field(default="online", max_length=16)  # online | offline
    nonce: str | None = Field(
        default=None, max_length=64
    )  # the gate's id of this scan: a retry is answered again
    scanned_at: datetime = Field(default_factory=utcnow)  # by the gate's clock for offline scans
    admitted_at: datetime = Field(default_factory=utcnow, index=True)  # indexed: snapshot deltas
    chain_status: QueueState = Field(default=QueueState.queued, sa_type=AutoString(16), index=True)
    batch_id: uuid.UUID | None = Field(default=None, foreign_key="checkin_batches.id")


class CheckinBatch(SQLModel, table=True):
    """One batch check-in transaction, on record (signed bytes and hash) before it is broadcast."""

    __tablename__ = "checkin_batches"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    token_ids: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    status: SendStatus = Field(default=SendStatus.pending, sa_type=AutoString(16))
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: str | None = Field(default=None, sa_column=Column(Text, nullable=True), repr=False)
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class GateConflict(SQLModel, table=True):
    """A ticket admitted twice while gates were offline: both admissions named, nothing merged. One row per
    offline scan (unique), so syncing the same scan again adds nothing."""

    __tablename__ = "gate_conflicts"
    __table_args__ = (UniqueConstraint("ticket_id", "gate_key_id", "device", "scanned_at"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    admission_id: uuid.UUID = Field(foreign_key="gate_admissions.id")  # the one that counted
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")  # the other gate
    device: str = Field(max_length=100)  # the other gate's device (offline scans always name one)
    scanned_at: datetime  # by the other gate's clock
    created_at: datetime = Field(default_factory=utcnow)


class GateRefusal(SQLModel, table=True):
    """A refused scan, with its reason (online scans, and offline scans whose code failed at sync)."""

    __tablename__ = "gate_refusals"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    gate_key_id: uuid.UUID = Field(foreign_key="api_keys.id")
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id")  # None: no such ticket
    reason: GateReason = Field(sa_type=AutoString(32))
    device: str | None = Field(default=None, max_length=100)
    source: str = Field(default="online", max_length=16)  # online | offline
    scanned_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)


# gate API schemas (docs/gate.md is the specification of every field)
B64Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{87}$")]  # 65-byte point, base64url


class DeviceBindRequest(SQLModel):
    """Account holders: `public_key` only (with their session). Self-custody holders: all three fields."""

    public_key: B64Key
    wallet_signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")] | None = None
    expires_at: int | None = Field(default=None, ge=0, lt=2**40)  # unix seconds, from GET .../device-message


class DeviceKeyPublic(SQLModel):
    ticket_id: uuid.UUID
    public_key: str
    holder: str
    bound_by: str
    created_at: datetime
    window_seconds: int  # how often the device signs a new code


class DeviceMessage(SQLModel):
    """What a self-custody holder's wallet signs (EIP-191 personal_sign) to bind a device key."""

    ticket_id: uuid.UUID
    message: str
    expires_at: int


class GateVerifyRequest(SQLModel):
    code: str = Field(max_length=512)
    direction: Literal["entry", "exit"] = "entry"  # exit: re-entry events (the policy reentry)


class GateScanRequest(GateVerifyRequest):
    device: str | None = Field(default=None, min_length=1, max_length=100)
    nonce: str | None = Field(default=None, min_length=1, max_length=64)  # the same nonce again: a retry


class GateAnswer(SQLModel):
    admit: bool
    reason: GateReason | None = None  # why not (docs/gate.md lists the reasons)
    ticket_id: uuid.UUID | None = None
    token_id: int | None = None
    tier_id: int | None = None
    tier_name: str | None = None


class GateSnapshot(SQLModel):
    payload: str  # JSON text
    signature: str  # base64url r || s, ECDSA P-256 SHA-256 over the payload's UTF-8 bytes
    public_key: str


class GateSnapshotKey(SQLModel):
    public_key: str


class OfflineScan(SQLModel):
    code: str = Field(max_length=512)
    direction: Literal["entry", "exit"] = "entry"
    scanned_at: Instant  # by the gate's clock; without an offset: UTC
    nonce: str | None = Field(default=None, min_length=1, max_length=64)  # as sent to /gate/scan


class GateSyncRequest(SQLModel):
    device: str = Field(min_length=1, max_length=100)
    scans: list[OfflineScan] = Field(max_length=200)


class AdmissionRef(SQLModel):
    """An admission (or an offline scan) named in a conflict."""

    gate_key_id: uuid.UUID
    gate_label: str | None
    device: str | None
    source: str
    scanned_at: datetime


class OfflineScanResult(SQLModel):
    result: str  # admitted | already_admitted_here | conflict | rejected
    reason: GateReason | None = None  # rejected: why (a refusal reason)
    ticket_id: uuid.UUID | None = None
    token_id: int | None = None
    admitted_by: AdmissionRef | None = None  # conflict: the admission that counts


class GateSyncAnswer(SQLModel):
    results: list[OfflineScanResult]  # in the order of the scans sent


class GateConflictPublic(SQLModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    token_id: int
    counted: AdmissionRef  # the admission on record
    other: AdmissionRef  # the offline scan that admitted the ticket again
    created_at: datetime
