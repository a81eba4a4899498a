"""Gate (door staff) endpoints, authenticated by a `gate` API key scoped to one event."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from ...errors import NotFound
from ...models import Event, GateEventPublic
from ...errors import Forbidden
from ..deps import GateDep, SessionDep

router = APIRouter(prefix="/gate", tags=["gate"])


@router.get("/events/{event_id}", response_model=GateEventPublic)
def gate_event(event_id: uuid.UUID, key: GateDep, session: SessionDep) -> GateEventPublic:
    """A probe: the gate key's own event (name and collection); any other event is 403 `wrong_event`."""
    if key.event_id != event_id:
        raise Forbidden("this gate key is for another event", code="wrong_event")
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    return GateEventPublic(id=event.id, name=event.name, chain_id=event.chain_id,
                           collection_address=event.collection_address)
