"""Tickets: issuing (organiser), reading, gifting and listing for resale (fan).

Each write is idempotent under the caller's Idempotency-Key: the request is recorded (status
`pending`) together with its operator transaction in the outbox (services/sending.py) and committed BEFORE
anything is signed or sent, so a retry can never send twice. A retry of a finished request returns the
stored result; a retry with another body is refused (`idempotency_key_reused`); a retry while the first is
pending is refused (`request_in_progress`). If the contract refuses when the call is estimated, nothing is
recorded. The answer is the pending record (or, with `send_wait_seconds`, the finished one): the sending
worker signs, broadcasts, replaces and confirms the transaction, then completes the record (services/
recovery.py) once it is `confirmations` blocks deep — or drops it if the contract reverted on chain, and the
key can be used again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

import ticketkit as tk
from ticketkit.chain import decode_revert
from ticketkit.tx import TxStatus

from .. import db
from ..errors import Conflict, NotFound, Unprocessable
from ..models import (
    Admission,
    ApiKey,
    Event,
    EventDoor,
    Fan,
    FanTicketPublic,
    GiftRequest,
    Issuance,
    IssueRequest,
    ListingStatus,
    Organiser,
    ResaleListing,
    ResaleRequest,
    ResaleSettlement,
    SendStatus,
    Ticket,
    TicketPlace,
    Tier,
    Transfer,
)
from ..runtime import Runtime
from . import gate, sending
from .fans import FanRef, custodial_account

R = TypeVar("R", Issuance, Transfer, ResaleListing, ResaleSettlement)


def _request_hash(**payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _replay(existing: R | None, request_hash: str) -> R | None:
    """The stored result of a finished request; None if there is none. A pending one → 409
    request_in_progress (the sending worker finishes or drops it)."""
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise Unprocessable(
            "this Idempotency-Key was used for another request", code="idempotency_key_reused"
        )
    if getattr(existing, "status", SendStatus.done) == SendStatus.pending:
        raise Conflict("a request with this Idempotency-Key is still in progress", code="request_in_progress")
    return existing


def _record_with_transaction(
    session: Session,
    runtime: Runtime,
    record: R,
    kind: str,
    call: Any,
    lookup: Any,
    request_hash: str,
    also: tuple[SQLModel, ...] = (),
    conflict: Exception | None = None,
) -> Any:
    """Estimate `call` (a contract refusal raises, nothing recorded), then commit the pending record, `also`
    and the outbox row in one transaction. A concurrent twin with the same key: its result is replayed."""
    session.add(record)
    session.add_all(also)
    try:
        row = sending.enqueue(session, runtime, kind=kind, record_id=record.id, call=call)
    except Exception:
        session.rollback()
        raise
    try:
        session.commit()
    except IntegrityError:  # a twin request with this key (or, with `conflict`, a rival) got there first
        session.rollback()
        if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
            return done
        if conflict is not None:
            raise conflict from None
        raise
    return _answer(session, runtime, record, row.id)


def refuse_if_holder_busy(session: Session, holder: Fan) -> None:
    """A holder's gateway-transfer authorisations carry the contract's per-holder nonce, used in order: one
    signed while another of the holder's is still on its way to the chain would be void once that one lands.
    So a holder has one at a time: 409 `holder_transfer_pending` (try again once it is done)."""
    gifts = select(Transfer.id).where(
        Transfer.from_fan_id == holder.id, Transfer.status == SendStatus.pending
    )
    sales = select(ResaleSettlement.id).where(
        ResaleSettlement.seller_fan_id == holder.id, ResaleSettlement.status == SendStatus.pending
    )
    if session.exec(gifts).first() is not None or session.exec(sales).first() is not None:
        raise Conflict(
            "the holder has another transfer on its way to the chain: try again once it is done",
            code="holder_transfer_pending",
        )


def _answer(session: Session, runtime: Runtime, record: R, tx_id: uuid.UUID) -> R:
    """The pending record; with `send_wait_seconds`, the record once its transaction is final (holding no
    database connection while it waits), or the contract's error if it reverted."""
    wait = runtime.settings.send_wait_seconds
    if wait > 0:
        row = sending.await_outcome(runtime, tx_id, wait)
        if row is not None and row.status != TxStatus.final:
            sending.raise_outcome(row)
    session.refresh(record)
    return record


def _collection(runtime: Runtime, ticket_or_event: Ticket | Event) -> tk.Collection:
    address = (
        ticket_or_event.contract
        if isinstance(ticket_or_event, Ticket)
        else ticket_or_event.collection_address
    )
    return tk.Collection(runtime.chain(), address)


# ---- reads
def fan_ticket(*, session: Session, fan: Fan, ticket_id: uuid.UUID) -> Ticket:
    """A ticket the fan holds; any other (unknown, or someone else's) is 'not found'."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.owner_fan_id != fan.id:
        raise NotFound("no such ticket", code="ticket_not_found")
    return ticket


def _fan_tickets_query() -> Select:
    """Built once (a Core statement, compiled once and cached by SQLAlchemy): the fan's tickets, oldest first,
    with their event and tier names, their admission and gate, their event's door and their place."""
    tickets, events, tiers = db.table_of(Ticket), db.table_of(Event), db.table_of(Tier)
    admissions, keys = db.table_of(Admission), db.table_of(ApiKey)
    doors, places = db.table_of(EventDoor), db.table_of(TicketPlace)
    t = tickets.c
    return (
        sa_select(
            t.id,
            t.event_id,
            t.chain_id,
            t.contract,
            t.token_id,
            t.tier_id,
            events.c.name.label("event_name"),
            tiers.c.name.label("tier_name"),
            admissions.c.id.label("admission_id"),
            admissions.c.scanned_at,
            keys.c.label,
            doors.c.event_id.label("door_event_id"),
            doors.c.venue,
            doors.c.timezone,
            doors.c.starts_at,
            doors.c.doors_at,
            doors.c.entry_policy,
            doors.c.entry_days,
            doors.c.tier_policies,
            places.c.ticket_id.label("place_ticket_id"),
            places.c.section,
            places.c.row,
            places.c.seat,
        )
        .select_from(
            tickets.join(events, events.c.id == t.event_id)
            .outerjoin(tiers, (tiers.c.event_id == t.event_id) & (tiers.c.tier_id == t.tier_id))
            .outerjoin(admissions, admissions.c.ticket_id == t.id)
            .outerjoin(keys, keys.c.id == admissions.c.gate_key_id)
            .outerjoin(doors, doors.c.event_id == t.event_id)
            .outerjoin(places, places.c.ticket_id == t.id)
        )
        .where(t.owner_fan_id == bindparam("fan_id"))
        .order_by(t.created_at, t.token_id)
    )


_FAN_TICKETS = _fan_tickets_query()
_FAN_TICKET = _FAN_TICKETS.where(db.table_of(Ticket).c.id == bindparam("ticket_id"))


def fan_tickets(
    *, connection: Connection, fan: Fan | FanRef, ticket_id: uuid.UUID | None = None
) -> list[FanTicketPublic]:
    """The tickets the fan holds (or the one `ticket_id`), with event and tier names, the gate state and what
    the pass shows about its door (gate.ticket_door).

    A hot path (every fan's phone polls it; a crowd at a sale opening): one Core statement for everything it
    shows, rows turned into answers without validating the database's own values again."""
    if ticket_id is None:
        rows = connection.execute(_FAN_TICKETS, {"fan_id": fan.id})
    else:
        rows = connection.execute(_FAN_TICKET, {"fan_id": fan.id, "ticket_id": ticket_id})
    return [
        FanTicketPublic.model_construct(
            id=row.id,
            event_id=row.event_id,
            chain_id=row.chain_id,
            contract=row.contract,
            token_id=row.token_id,
            tier_id=row.tier_id,
            event_name=row.event_name,
            tier_name=row.tier_name,
            checked_in=row.admission_id is not None,
            door=gate.ticket_door(
                row if row.door_event_id is not None else None,
                row if row.place_ticket_id is not None else None,
                row if row.admission_id is not None else None,
                row.tier_id,
            ),
        )
        for row in rows
    ]


def issuance_tickets(*, session: Session, issuance: Issuance) -> list[Ticket]:
    return list(
        session.exec(select(Ticket).where(Ticket.issuance_id == issuance.id).order_by(col(Ticket.token_id)))
    )


# ---- issue (organiser mints to a fan account)
def issue_tickets(
    *,
    session: Session,
    runtime: Runtime,
    organiser: Organiser,
    event: Event,
    data: IssueRequest,
    idempotency_key: str,
) -> Issuance:
    """The only write path for minting: mintBatch to the fan's custodial address, sent by the operator."""
    request_hash = _request_hash(event=event.id, **data.model_dump())
    lookup = select(Issuance).where(
        Issuance.organiser_id == organiser.id, Issuance.idempotency_key == idempotency_key
    )
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    fan = session.get(Fan, data.fan_id)
    if fan is None:
        raise NotFound("no such fan", code="fan_not_found")
    runtime.operator()  # no operator key: refuse before recording anything
    issuance = Issuance(
        organiser_id=organiser.id,
        event_id=event.id,
        fan_id=fan.id,
        tier_id=data.tier_id,
        quantity=data.quantity,
        payment_reference=data.payment_reference,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    call = _collection(runtime, event).mint_batch_call(data.tier_id, [fan.address] * data.quantity)
    return _record_with_transaction(session, runtime, issuance, "issuance", call, lookup, request_hash)


# ---- gift (fan to fan, through a gateway transfer at price 0)
def gift_ticket(
    *,
    session: Session,
    runtime: Runtime,
    fan: Fan,
    ticket_id: uuid.UUID,
    data: GiftRequest,
    idempotency_key: str,
) -> Transfer:
    """The only write path for gifts: the fan's custodial key signs, the operator sends gatewayTransfer."""
    request_hash = _request_hash(ticket=ticket_id, **data.model_dump())
    lookup = select(Transfer).where(
        Transfer.from_fan_id == fan.id, Transfer.idempotency_key == idempotency_key
    )
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    ticket = fan_ticket(session=session, fan=fan, ticket_id=ticket_id)
    recipient = session.get(Fan, data.to_fan)
    if recipient is None:
        raise NotFound("no such fan", code="fan_not_found")
    if recipient.id == fan.id:
        raise Unprocessable("a ticket cannot be gifted to its holder", code="same_fan")
    runtime.operator()  # no operator key: refuse before recording anything
    refuse_if_holder_busy(session, fan)
    _require_gifts(_collection(runtime, ticket))
    transfer = Transfer(
        ticket_id=ticket.id,
        from_fan_id=fan.id,
        to_fan_id=recipient.id,
        kind="gift",
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    collection = _collection(runtime, ticket)
    deadline = runtime.chain().timestamp() + runtime.settings.transfer_deadline_seconds
    holder = custodial_account(fan, secret=runtime.secret())
    call = collection.gateway_transfer_call(ticket.token_id, recipient.address, 0, deadline, holder)
    del holder
    return _record_with_transaction(session, runtime, transfer, "gift", call, lookup, request_hash)


def _require_gifts(collection: tk.Collection) -> None:
    """The collection's gift policy and pause, read before anything is recorded (the contract checks them
    too)."""
    if not collection.event_info()["gifts_allowed"]:
        raise Conflict(
            "the organiser does not allow gifts for this event: tickets change hands only by resale",
            code="gifts_not_allowed",
        )
    _require_not_paused(collection)


def _require_not_paused(collection: tk.Collection) -> None:
    if collection.paused():
        raise Conflict(
            "the organiser has paused this event's tickets: no transfers until it resumes",
            code="enforced_pause",
        )


# ---- resale listing (off chain, checked against the contract's own rules)
def _simulate_list(collection: tk.Collection, token_id: int, price: int, holder: str) -> None:
    """Dry-run the contract's `list` as the holder: the same checks (cap, used, lock) the chain applies."""
    try:
        collection.check_listing(token_id, price, holder)
    except Exception as error:  # translated below
        decoded = decode_revert(getattr(error, "data", None))
        if decoded is not None:
            raise decoded from None
        if isinstance(error, tk.TicketkitError):
            raise
        raise tk.TransactionFailed(f"resale check failed: {type(error).__name__}") from None


def list_for_resale(
    *,
    session: Session,
    runtime: Runtime,
    fan: Fan,
    ticket_id: uuid.UUID,
    data: ResaleRequest,
    idempotency_key: str,
) -> ResaleListing:
    """The only write path for resale listings; a new listing replaces the fan's active one."""
    request_hash = _request_hash(ticket=ticket_id, **data.model_dump())
    lookup = select(ResaleListing).where(
        ResaleListing.seller_fan_id == fan.id, ResaleListing.idempotency_key == idempotency_key
    )
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    ticket = fan_ticket(session=session, fan=fan, ticket_id=ticket_id)
    collection = _collection(runtime, ticket)
    try:
        _simulate_list(collection, ticket.token_id, data.price_wei, fan.address)
    except tk.errors.PriceAboveCap as error:
        raise Conflict(
            f"the price exceeds the resale cap of {error.cap} wei",
            code="price_above_cap",
            cap_wei=str(error.cap),
            price_wei=str(data.price_wei),
        ) from None
    cap = collection.resale_cap_of(ticket.token_id)
    for old in session.exec(
        select(ResaleListing).where(
            ResaleListing.ticket_id == ticket.id, ResaleListing.status == ListingStatus.active
        )
    ):
        old.status = ListingStatus.replaced
        session.add(old)
    listing = ResaleListing(
        ticket_id=ticket.id,
        seller_fan_id=fan.id,
        price_wei=str(data.price_wei),
        cap_wei=str(cap),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    session.add(listing)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
            return done
        raise
    session.refresh(listing)
    return listing
