from __future__ import annotations

import uuid

from fastapi import APIRouter

from ...models import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Event,
    EventCreate,
    EventPublic,
    IssuancePublic,
    IssueRequest,
    TicketPublic,
    TierPublic,
)
from ...services import events as service
from ...services import organisers as organiser_service
from ...services import tickets as ticket_service
from ..deps import IdempotencyKey, OrganiserDep, RuntimeDep, SessionDep
from ..routing import OneTripRoute

router = APIRouter(prefix="/events", tags=["events"], route_class=OneTripRoute)


def _public(session: SessionDep, event: Event) -> EventPublic:
    tiers = [
        TierPublic.model_validate(t, from_attributes=True)
        for t in service.event_tiers(session=session, event=event)
    ]
    return EventPublic.model_validate({**event.model_dump(), "tiers": tiers})


@router.post("", status_code=201, response_model=EventPublic)
def register_event(
    data: EventCreate, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep
) -> EventPublic:
    event = service.register_event(session=session, chain=runtime.chain(), organiser=organiser, data=data)
    return _public(session, event)


@router.get("/{event_id}", response_model=EventPublic)
def get_event(event_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep) -> EventPublic:
    return _public(session, service.organiser_event(session=session, organiser=organiser, event_id=event_id))


@router.post("/{event_id}/tiers/refresh", response_model=EventPublic)
def refresh_tiers(
    event_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep
) -> EventPublic:
    """Read the collection's tiers again (the indexer does this on TierAdded/TierUpdated when it runs)."""
    event = service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    service.refresh_tiers(session=session, chain=runtime.chain(), event=event)
    return _public(session, event)


@router.post("/{event_id}/tickets/issue", status_code=201, response_model=IssuancePublic)
def issue_tickets(
    event_id: uuid.UUID,
    data: IssueRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    key: IdempotencyKey,
) -> IssuancePublic:
    event = service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    issuance = ticket_service.issue_tickets(
        session=session, runtime=runtime, organiser=organiser, event=event, data=data, idempotency_key=key
    )
    tickets = ticket_service.issuance_tickets(session=session, issuance=issuance)
    return IssuancePublic(
        id=issuance.id,
        event_id=issuance.event_id,
        fan_id=issuance.fan_id,
        payment_reference=issuance.payment_reference,
        status=issuance.status,
        tx_hash=issuance.tx_hash,
        tickets=[TicketPublic.model_validate(t, from_attributes=True) for t in tickets],
    )


@router.post("/{event_id}/gate-keys", status_code=201, response_model=ApiKeyCreated)
def create_gate_key(
    event_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep, data: ApiKeyCreate | None = None
) -> ApiKeyCreated:
    event = service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    key, token = organiser_service.create_gate_key(
        session=session, event=event, label=data.label if data else None
    )
    return ApiKeyCreated.model_validate(key, from_attributes=True, update={"api_key": token})


@router.get("/{event_id}/gate-keys", response_model=list[ApiKeyPublic])
def list_gate_keys(event_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep) -> list[ApiKey]:
    event = service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return organiser_service.gate_keys(session=session, event=event)


@router.delete("/{event_id}/gate-keys/{key_id}", response_model=ApiKeyPublic)
def revoke_gate_key(
    event_id: uuid.UUID, key_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep
) -> ApiKey:
    """Revoke a gate key (a lost or stolen scanner): refused everywhere within `gate_cache_seconds`."""
    event = service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return organiser_service.revoke_api_key(session=session, organiser=organiser, key_id=key_id, event=event)
