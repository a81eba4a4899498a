"""Tickets: issuing (organiser), reading, gifting and listing for resale (fan).

Each write is idempotent under the caller's Idempotency-Key: the request is recorded (status
`pending`) and committed BEFORE anything is sent on chain, so a retry can never send twice. A retry
of a finished request returns the stored result; a retry with another body is refused
(`idempotency_key_reused`); a retry while the first is pending is refused (`request_in_progress`).
If the contract refuses, nothing happened on chain: the record is dropped and the key can be reused.
If the node fails mid-way the record stays `pending` (the outcome is unknown) — see docs/gateway.md.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from web3.logs import DISCARD
from sqlmodel import Session, SQLModel, select

import ticketkit as tk
from ticketkit.chain import decode_revert

from ..errors import Conflict, NotFound, Unprocessable
from ..models import (
    Event,
    Fan,
    GiftRequest,
    Issuance,
    IssueRequest,
    Organiser,
    ResaleListing,
    ResaleRequest,
    Ticket,
    Transfer,
)
from ..runtime import Runtime
from .fans import custodial_account

R = TypeVar("R", Issuance, Transfer, ResaleListing)


def _request_hash(**payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _replay(existing: R | None, request_hash: str) -> R | None:
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise Unprocessable("this Idempotency-Key was used for another request", code="idempotency_key_reused")
    if getattr(existing, "status", "done") == "pending":
        raise Conflict("a request with this Idempotency-Key is still in progress", code="request_in_progress")
    return existing


def _record(session: Session, row: SQLModel, lookup: Any, request_hash: str) -> Any:
    """Insert the pending record; if a concurrent twin won the race, replay it instead."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return _replay(session.exec(lookup).first(), request_hash)
    return None


def _drop(session: Session, row: SQLModel) -> None:
    session.delete(row)
    session.commit()


def _collection(runtime: Runtime, ticket_or_event: Ticket | Event) -> tk.Collection:
    address = ticket_or_event.contract if isinstance(ticket_or_event, Ticket) else ticket_or_event.collection_address
    return tk.Collection(runtime.chain(), address)


# ---- reads
def fan_ticket(*, session: Session, fan: Fan, ticket_id: uuid.UUID) -> Ticket:
    """A ticket the fan holds; any other (unknown, or someone else's) is 'not found'."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.owner_fan_id != fan.id:
        raise NotFound("no such ticket", code="ticket_not_found")
    return ticket


def issuance_tickets(*, session: Session, issuance: Issuance) -> list[Ticket]:
    return list(session.exec(select(Ticket).where(Ticket.issuance_id == issuance.id).order_by(Ticket.token_id)))


# ---- issue (organiser mints to a fan account)
def issue_tickets(*, session: Session, runtime: Runtime, organiser: Organiser, event: Event, data: IssueRequest,
                  idempotency_key: str) -> Issuance:
    """The only write path for minting: mintBatch to the fan's custodial address, sent by the operator."""
    request_hash = _request_hash(event=event.id, **data.model_dump())
    lookup = select(Issuance).where(Issuance.organiser_id == organiser.id,
                                    Issuance.idempotency_key == idempotency_key)
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    fan = session.get(Fan, data.fan_id)
    if fan is None:
        raise NotFound("no such fan", code="fan_not_found")
    operator = runtime.operator()
    issuance = Issuance(organiser_id=organiser.id, event_id=event.id, fan_id=fan.id, tier_id=data.tier_id,
                        quantity=data.quantity, payment_reference=data.payment_reference,
                        idempotency_key=idempotency_key, request_hash=request_hash)
    if (done := _record(session, issuance, lookup, request_hash)) is not None:
        return done
    collection = _collection(runtime, event)
    try:  # a contract refusal shows up while estimating gas, before anything is sent
        tx_hash = collection.mint_batch(data.tier_id, [fan.address] * data.quantity, sender=operator, wait=False)
    except tk.ContractRevert:
        _drop(session, issuance)
        raise
    issuance.tx_hash = tx_hash.to_0x_hex()
    session.add(issuance)
    session.commit()  # the hash is on record before we wait: a reconciler can finish this later
    receipt = runtime.chain().wait(tx_hash)
    [minted] = collection.contract.events.TicketsMinted().process_receipt(receipt, errors=DISCARD)
    first = minted["args"]["firstTokenId"]
    token_ids = range(first, first + data.quantity)
    for token_id in token_ids:
        session.add(Ticket(event_id=event.id, chain_id=event.chain_id, contract=event.collection_address,
                           token_id=token_id, tier_id=data.tier_id, owner_fan_id=fan.id, issuance_id=issuance.id))
    issuance.status = "done"
    session.add(issuance)
    session.commit()
    session.refresh(issuance)
    return issuance


# ---- gift (fan to fan, through a gateway transfer at price 0)
def gift_ticket(*, session: Session, runtime: Runtime, fan: Fan, ticket_id: uuid.UUID, data: GiftRequest,
                idempotency_key: str) -> Transfer:
    """The only write path for gifts: the fan's custodial key signs, the operator sends gatewayTransfer."""
    request_hash = _request_hash(ticket=ticket_id, **data.model_dump())
    lookup = select(Transfer).where(Transfer.from_fan_id == fan.id, Transfer.idempotency_key == idempotency_key)
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    ticket = fan_ticket(session=session, fan=fan, ticket_id=ticket_id)
    recipient = session.get(Fan, data.to_fan)
    if recipient is None:
        raise NotFound("no such fan", code="fan_not_found")
    if recipient.id == fan.id:
        raise Unprocessable("a ticket cannot be gifted to its holder", code="same_fan")
    operator = runtime.operator()
    transfer = Transfer(ticket_id=ticket.id, from_fan_id=fan.id, to_fan_id=recipient.id, kind="gift",
                        idempotency_key=idempotency_key, request_hash=request_hash)
    if (done := _record(session, transfer, lookup, request_hash)) is not None:
        return done
    collection = _collection(runtime, ticket)
    try:
        deadline = runtime.chain().timestamp() + runtime.settings.transfer_deadline_seconds
        holder = custodial_account(fan, secret=runtime.secret())
        signature = collection.sign_gateway_transfer(ticket.token_id, recipient.address, 0, deadline, holder)
        del holder
        receipt = collection.gateway_transfer(ticket.token_id, recipient.address, 0, deadline, signature,
                                              sender=operator)
    except tk.ContractRevert:
        _drop(session, transfer)
        raise
    transfer.status = "done"
    transfer.tx_hash = receipt["transactionHash"].to_0x_hex()
    ticket.owner_fan_id = recipient.id
    for listing in session.exec(select(ResaleListing).where(ResaleListing.ticket_id == ticket.id,
                                                            ResaleListing.status == "active")):
        listing.status = "cancelled"
        session.add(listing)
    session.add(transfer)
    session.add(ticket)
    session.commit()
    session.refresh(transfer)
    return transfer


# ---- resale listing (off chain, checked against the contract's own rules)
def _simulate_list(collection: tk.Collection, token_id: int, price: int, holder: str) -> None:
    """Dry-run the contract's `list` as the holder: the same checks (cap, used, lock) the chain applies."""
    try:
        collection.contract.functions.list(token_id, price).call({"from": holder})
    except Exception as error:  # noqa: BLE001 - translated below
        decoded = decode_revert(getattr(error, "data", None))
        if decoded is not None:
            raise decoded from None
        if isinstance(error, tk.TicketkitError):
            raise
        raise tk.TransactionFailed(f"resale check failed: {type(error).__name__}") from None


def list_for_resale(*, session: Session, runtime: Runtime, fan: Fan, ticket_id: uuid.UUID, data: ResaleRequest,
                    idempotency_key: str) -> ResaleListing:
    """The only write path for resale listings; a new listing replaces the fan's active one."""
    request_hash = _request_hash(ticket=ticket_id, **data.model_dump())
    lookup = select(ResaleListing).where(ResaleListing.seller_fan_id == fan.id,
                                         ResaleListing.idempotency_key == idempotency_key)
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    ticket = fan_ticket(session=session, fan=fan, ticket_id=ticket_id)
    collection = _collection(runtime, ticket)
    try:
        _simulate_list(collection, ticket.token_id, data.price_wei, fan.address)
    except tk.errors.PriceAboveCap as error:  # type: ignore[name-defined]
        raise Conflict(f"the price exceeds the resale cap of {error.cap} wei", code="price_above_cap",
                       cap_wei=str(error.cap), price_wei=str(data.price_wei)) from None
    cap = collection.resale_cap_of(ticket.token_id)
    for old in session.exec(select(ResaleListing).where(ResaleListing.ticket_id == ticket.id,
                                                        ResaleListing.status == "active")):
        old.status = "replaced"
        session.add(old)
    listing = ResaleListing(ticket_id=ticket.id, seller_fan_id=fan.id, price_wei=str(data.price_wei),
                            cap_wei=str(cap), idempotency_key=idempotency_key, request_hash=request_hash)
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
