"""Resale listings: buying one (settlement) and cancelling one; the public list lives at
GET /events/{id}/listings. Included by routes/tickets.py (its router carries no prefix)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from ...models import BuyRequest, ListingOffer, ResaleListingPublic, ResaleSettlement, SettlementPublic
from ...services import resale as service
from ..deps import FanDep, IdempotencyKey, RuntimeDep, SessionDep
from ..routing import OneTripRoute

router = APIRouter(tags=["listings"], route_class=OneTripRoute)


def settlement_public(settlement: ResaleSettlement) -> SettlementPublic:
    return SettlementPublic(
        id=settlement.id,
        listing_id=settlement.listing_id,
        ticket_id=settlement.ticket_id,
        buyer_fan=settlement.buyer_fan_id,
        price_wei=settlement.price_wei,
        royalty_wei=settlement.royalty_wei,
        royalty_receiver=settlement.royalty_receiver,
        payment_reference=settlement.payment_reference,
        status=settlement.status,
        tx_hash=settlement.tx_hash,
    )


@router.post("/listings/{listing_id}/buy", status_code=201, response_model=SettlementPublic)
def buy(
    listing_id: uuid.UUID,
    data: BuyRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    fan: FanDep,
    key: IdempotencyKey,
) -> SettlementPublic:
    settlement = service.buy_listing(
        session=session, runtime=runtime, fan=fan, listing_id=listing_id, data=data, idempotency_key=key
    )
    return settlement_public(settlement)


@router.delete("/listings/{listing_id}", response_model=ResaleListingPublic)
def cancel(listing_id: uuid.UUID, session: SessionDep, fan: FanDep) -> ResaleListingPublic:
    return ResaleListingPublic.model_validate(
        service.cancel_listing(session=session, fan=fan, listing_id=listing_id), from_attributes=True
    )


@router.get("/events/{event_id}/listings", response_model=list[ListingOffer])
def event_listings(event_id: uuid.UUID, session: SessionDep) -> list[ListingOffer]:
    return [
        ListingOffer(
            id=listing.id,
            ticket_id=ticket.id,
            token_id=ticket.token_id,
            tier_id=ticket.tier_id,
            price_wei=listing.price_wei,
            cap_wei=listing.cap_wei,
        )
        for listing, ticket in service.event_listings(session=session, event_id=event_id)
    ]
