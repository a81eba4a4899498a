"""Fans' tickets. The router has no prefix so that it can also carry routes/listings.py. Pending records are
finished by the sending worker (services/sending.py), started with the app."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter
from sqlalchemy import Connection

from ...errors import NotFound
from ...models import FanTicketPublic, GiftRequest, ResaleListingPublic, ResaleRequest, TransferPublic
from ...runtime import Runtime
from ...services import fans
from ...services import tickets as service
from ..deps import FanDep, FanTokenDep, IdempotencyKey, RuntimeDep, SessionDep
from ..routing import OneTripRoute
from . import listings

log = logging.getLogger("gateway")


router = APIRouter(tags=["tickets"], route_class=OneTripRoute)


def _reading(runtime: Runtime) -> Connection:
    """A connection for the fans' ticket reads, every phone's poll: opened and closed in the endpoint's trip
    (no session, no dependency to unwind), on the autocommit engine, so a read is one round trip — no BEGIN,
    no ROLLBACK, no liveness ping per checkout (on PostgreSQL that was three of four round trips). Never for
    writes: nothing it does is atomic with anything else."""
    return runtime.autocommit_engine().connect()


@router.get("/fans/me/tickets", response_model=list[FanTicketPublic])
def my_tickets(runtime: RuntimeDep, token: FanTokenDep) -> list[FanTicketPublic]:
    with _reading(runtime) as connection:
        return service.fan_tickets(connection=connection, fan=fans.fan_of(connection, token))


@router.get("/tickets/{ticket_id}", response_model=FanTicketPublic)
def get_ticket(ticket_id: uuid.UUID, runtime: RuntimeDep, token: FanTokenDep) -> FanTicketPublic:
    with _reading(runtime) as connection:
        fan = fans.fan_of(connection, token)
        found = service.fan_tickets(connection=connection, fan=fan, ticket_id=ticket_id)
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
