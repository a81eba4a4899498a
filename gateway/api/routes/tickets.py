from __future__ import annotations

import uuid

from fastapi import APIRouter

from ...models import GiftRequest, ResaleListingPublic, ResaleRequest, TicketPublic, TransferPublic
from ...services import tickets as service
from ..deps import FanDep, IdempotencyKey, RuntimeDep, SessionDep

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get("/{ticket_id}", response_model=TicketPublic)
def get_ticket(ticket_id: uuid.UUID, session: SessionDep, fan: FanDep) -> TicketPublic:
    return TicketPublic.model_validate(service.fan_ticket(session=session, fan=fan, ticket_id=ticket_id),
                                       from_attributes=True)


@router.post("/{ticket_id}/gift", status_code=201, response_model=TransferPublic)
def gift(ticket_id: uuid.UUID, data: GiftRequest, session: SessionDep, runtime: RuntimeDep, fan: FanDep,
         key: IdempotencyKey) -> TransferPublic:
    transfer = service.gift_ticket(session=session, runtime=runtime, fan=fan, ticket_id=ticket_id, data=data,
                                   idempotency_key=key)
    return TransferPublic(id=transfer.id, ticket_id=transfer.ticket_id, to_fan=transfer.to_fan_id,
                          kind=transfer.kind, price_wei=transfer.price_wei, status=transfer.status,
                          tx_hash=transfer.tx_hash)


@router.post("/{ticket_id}/resale", status_code=201, response_model=ResaleListingPublic)
def resale(ticket_id: uuid.UUID, data: ResaleRequest, session: SessionDep, runtime: RuntimeDep, fan: FanDep,
           key: IdempotencyKey) -> ResaleListingPublic:
    listing = service.list_for_resale(session=session, runtime=runtime, fan=fan, ticket_id=ticket_id, data=data,
                                      idempotency_key=key)
    return ResaleListingPublic.model_validate(listing, from_attributes=True)
