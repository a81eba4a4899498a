"""Fans' tickets. The router has no prefix so that it can also carry routes/listings.py. Pending records are
finished by the sending worker (services/sending.py), started with the app."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter

from ...errors import NotFound
from ...models import FanTicketPublic, GiftRequest, ResaleListingPublic, ResaleRequest, TransferPublic
from ...services import tickets as service
from ..deps import FanDep, FanRefDep, IdempotencyKey, ReadSessionDep, RuntimeDep, SessionDep
from ..routing import OneTripRoute
from . import listings

log = logging.getLogger("gateway")


router = APIRouter(tags=["tickets"], route_class=OneTripRoute)


@router.get("/fans/me/tickets", response_model=list[FanTicketPublic])
def my_tickets(session: ReadSessionDep, fan: FanRefDep) -> list[FanTicketPublic]:
    return service.fan_tickets(session=session, fan=fan)


@router.get("/tickets/{ticket_id}", response_model=FanTicketPublic)
def get_ticket(ticket_id: uuid.UUID, session: ReadSessionDep, fan: FanRefDep) -> FanTicketPublic:
    found = service.fan_tickets(session=session, fan=fan, ticket_id=ticket_id)
    if not found:
        raise NotFound("no such ticket", code="ticket_not_found")
    return found[0]


@router.post("/tickets/{ticket_id}/gift", status_code=201, response_model=TransferPublic)
def gift(
    ticket_id: uuid.UUID,
    data: GiftRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    fan: FanDep,
    key: IdempotencyKey,
) -> TransferPublic:
    transfer = service.gift_ticket(
        session=session, runtime=runtime, fan=fan, ticket_id=ticket_id, data=data, idempotency_key=key
    )
    return TransferPublic(
        id=transfer.id,
        ticket_id=transfer.ticket_id,
        to_fan=transfer.to_fan_id,
        kind=transfer.kind,
        price_wei=transfer.price_wei,
        status=transfer.status,
        tx_hash=transfer.tx_hash,
    )


@router.post("/tickets/{ticket_id}/resale", status_code=201, response_model=ResaleListingPublic)
def resale(
    ticket_id: uuid.UUID,
    data: ResaleRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    fan: FanDep,
    key: IdempotencyKey,
) -> ResaleListingPublic:
    listing = service.list_for_resale(
        session=session, runtime=runtime, fan=fan, ticket_id=ticket_id, data=data, idempotency_key=key
    )
    return ResaleListingPublic.model_validate(listing, from_attributes=True)


router.include_router(listings.router)
