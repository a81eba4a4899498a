"""Resale settlement: a buyer pays off chain, the gateway moves the ticket with a paid gatewayTransfer
signed by the SELLER's custodial key at the listing price (the contract checks the cap and emits the
price); listing cancellation; the public list of an event's active listings."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from ..errors import Conflict, NotFound
from ..models import BuyRequest, Event, Fan, ListingStatus, ResaleListing, ResaleSettlement, Ticket
from ..runtime import Runtime
from .fans import custodial_account
from .tickets import (
    _collection,
    _record_with_transaction,
    _replay,
    _request_hash,
    _require_not_paused,
    refuse_if_holder_busy,
)


def event_listings(*, session: Session, event_id: uuid.UUID) -> list[tuple[ResaleListing, Ticket]]:
    if session.get(Event, event_id) is None:
        raise NotFound("no such event", code="event_not_found")
    rows = session.exec(
        select(ResaleListing, Ticket)
        .join(Ticket, col(ResaleListing.ticket_id) == Ticket.id)
        .where(Ticket.event_id == event_id, ResaleListing.status == ListingStatus.active)
        .order_by(col(Ticket.token_id))
    )
    return list(rows)


def cancel_listing(*, session: Session, fan: Fan, listing_id: uuid.UUID) -> ResaleListing:
    listing = session.get(ResaleListing, listing_id)
    if listing is None or listing.seller_fan_id != fan.id:
        raise NotFound("no such listing", code="listing_not_found")
    if listing.status != ListingStatus.active:
        raise Conflict(
            f"the listing is {listing.status}", code="listing_not_active", status_now=listing.status
        )
    listing.status = ListingStatus.cancelled
    session.add(listing)
    session.commit()
    session.refresh(listing)
    return listing


def buy_listing(
    *,
    session: Session,
    runtime: Runtime,
    fan: Fan,
    listing_id: uuid.UUID,
    data: BuyRequest,
    idempotency_key: str,
) -> ResaleSettlement:
    """The only write path for resale purchases; idempotent under the buyer's Idempotency-Key."""
    request_hash = _request_hash(listing=listing_id, **data.model_dump())
    lookup = select(ResaleSettlement).where(
        ResaleSettlement.buyer_fan_id == fan.id, ResaleSettlement.idempotency_key == idempotency_key
    )
    if (done := _replay(session.exec(lookup).first(), request_hash)) is not None:
        return done
    listing = session.get(ResaleListing, listing_id)
    if listing is None:
        raise NotFound("no such listing", code="listing_not_found")
    if listing.seller_fan_id == fan.id:
        raise Conflict("you cannot buy your own listing", code="own_listing")
    ticket = session.get(Ticket, listing.ticket_id)
    if (
        listing.status != ListingStatus.active
        or ticket is None
        or ticket.owner_fan_id != listing.seller_fan_id
    ):
        raise Conflict(
            f"the listing is {listing.status}", code="listing_not_active", status_now=listing.status
        )
    collection = _collection(runtime, ticket)
    if collection.is_used(ticket.token_id):
        raise Conflict(
            "the ticket was already used", code="ticket_already_used", token_id=str(ticket.token_id)
        )
    _require_not_paused(collection)
    seller = session.get(Fan, listing.seller_fan_id)
    assert seller is not None  # a listing's seller (a foreign key)
    runtime.operator()  # no operator key: refuse before recording anything
    refuse_if_holder_busy(session, seller)
    receiver, royalty = collection.royalty_info(ticket.token_id, int(listing.price_wei))
    settlement = ResaleSettlement(
        listing_id=listing.id,
        ticket_id=ticket.id,
        seller_fan_id=listing.seller_fan_id,
        buyer_fan_id=fan.id,
        price_wei=listing.price_wei,
        royalty_wei=str(royalty),
        royalty_receiver=receiver,
        payment_reference=data.payment_reference,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    price = int(settlement.price_wei)
    deadline = runtime.chain().timestamp() + runtime.settings.transfer_deadline_seconds
    holder = custodial_account(seller, secret=runtime.secret())
    call = collection.gateway_transfer_call(ticket.token_id, fan.address, price, deadline, holder)
    del holder
    listing.status = ListingStatus.settling
    return _record_with_transaction(
        session,
        runtime,
        settlement,
        "settlement",
        call,
        lookup,
        request_hash,
        also=(listing,),
        conflict=Conflict("the listing is being sold", code="listing_not_active"),
    )
