"""Gate (door staff) endpoints, authenticated by a `gate` API key scoped to one event (docs/gate.md), and the
organiser's view of offline conflicts. Plain `def` routes: they block on the database.

verify and scan are the hot path (thousands a second at the doors): their gate key comes from a per-process
cache (deps.current_gate_key), they take the runtime from the request
and open their own session (single statements, autocommit), so a request costs one trip to the threadpool
instead of four, and they write their answer's JSON directly (the response model documents it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from ...errors import Forbidden, NotFound
from ...models import (
    Event,
    EventDoorPublic,
    EventDoorSet,
    GateAnswer,
    GateConflictPublic,
    GateEventPublic,
    GateScanRequest,
    GateSnapshot,
    GateSnapshotKey,
    GateSyncAnswer,
    GateSyncRequest,
    GateVerifyRequest,
    TicketPlaceBase,
    TicketPlacePublic,
)
from ...runtime import Runtime
from ...services import events as event_service
from ...services import gate as service
from ..deps import GateDep, OrganiserDep, RuntimeDep, SessionDep
from ..routing import OneTripRoute

router = APIRouter(tags=["gate"], route_class=OneTripRoute)


@contextmanager
def _single_statements(runtime: Runtime) -> Iterator[Session]:
    """A session whose statements each commit on their own (AUTOCOMMIT): verify and scan never need two
    statements to be atomic together - the check-in is one INSERT - and on PostgreSQL this saves the BEGIN
    and ROLLBACK round trips, two thirds of a verify's time."""
    with Session(runtime.autocommit_engine()) as session:
        yield session


def _answer(verdict: service.Verdict) -> JSONResponse:
    """A GateAnswer's JSON, written directly: validating our own dataclass again would cost a fifth of a
    verify."""
    return JSONResponse(
        {
            "admit": verdict.admit,
            "reason": verdict.reason,
            "ticket_id": None if verdict.ticket_id is None else str(verdict.ticket_id),
            "token_id": verdict.token_id,
            "tier_id": verdict.tier_id,
            "tier_name": verdict.tier_name,
        }
    )


@router.get("/gate/events/{event_id}", response_model=GateEventPublic)
def gate_event(event_id: uuid.UUID, key: GateDep, session: SessionDep) -> GateEventPublic:
    """A probe: the gate key's own event (name and collection); any other event is 403 `wrong_event`."""
    if key.event_id != event_id:
        raise Forbidden("this gate key is for another event", code="wrong_event")
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    return GateEventPublic(
        id=event.id, name=event.name, chain_id=event.chain_id, collection_address=event.collection_address
    )


@router.post("/gate/verify", response_model=GateAnswer)
def verify(data: GateVerifyRequest, key: GateDep, request: Request) -> JSONResponse:
    """Would this code admit now? Writes nothing. A refusal is an answer (200, `admit` false, `reason`)."""
    runtime: Runtime = request.app.state.runtime
    with _single_statements(runtime) as session:
        return _answer(
            service.verify_code(
                session=session,
                settings=runtime.settings,
                gate_key=key,
                code=data.code,
                direction=data.direction,
            )
        )


@router.post("/gate/scan", response_model=GateAnswer)
def scan(data: GateScanRequest, key: GateDep, request: Request) -> JSONResponse:
    """Check the code and check the ticket in: of simultaneous scans of one ticket exactly one admits."""
    runtime: Runtime = request.app.state.runtime
    with _single_statements(runtime) as session:
        return _answer(
            service.scan(
                session=session,
                settings=runtime.settings,
                gate_key=key,
                code=data.code,
                device=data.device,
                nonce=data.nonce,
                direction=data.direction,
            )
        )


@router.get("/gate/snapshot", response_model=GateSnapshot)
def snapshot(
    key: GateDep,
    session: SessionDep,
    runtime: RuntimeDep,
    since: str | None = Query(default=None, max_length=64),
) -> GateSnapshot:
    """The event's tickets, device keys, check-ins, entries, revocations and cancellation, signed by the
    gateway; `since` (a snapshot's `cursor`): only what changed since (a delta)."""
    payload, signature, public_key = service.snapshot(
        session=session, settings=runtime.settings, gate_key=key, since=since
    )
    return GateSnapshot(payload=payload, signature=signature, public_key=public_key)


@router.get("/gate/snapshot-key", response_model=GateSnapshotKey)
def snapshot_key(runtime: RuntimeDep) -> GateSnapshotKey:
    """The public key that signs snapshots (public: a gate device pins it)."""
    return GateSnapshotKey(public_key=service.snapshot_public_key(runtime.settings))


@router.post("/gate/sync", response_model=GateSyncAnswer)
def sync(data: GateSyncRequest, key: GateDep, session: SessionDep, runtime: RuntimeDep) -> GateSyncAnswer:
    """Record what this gate admitted while offline (at most 200 scans a request), in order."""
    return GateSyncAnswer(
        results=service.sync_offline_scans(
            session=session, settings=runtime.settings, gate_key=key, device=data.device, scans=data.scans
        )
    )


@router.get("/events/{event_id}/gate-conflicts", response_model=list[GateConflictPublic])
def gate_conflicts(
    event_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep
) -> list[GateConflictPublic]:
    """Tickets admitted twice while gates were offline (the event's organiser)."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.event_conflicts(session=session, event=event)


@router.get("/events/{event_id}/door", response_model=EventDoorPublic)
def get_door(event_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep) -> EventDoorPublic:
    """The event's entry policy (single, reentry, days) and the details its passes show."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.door(session=session, event_id=event.id)


@router.put("/events/{event_id}/door", response_model=EventDoorPublic)
def put_door(
    event_id: uuid.UUID, data: EventDoorSet, session: SessionDep, organiser: OrganiserDep
) -> EventDoorPublic:
    """Set the event's entry policy and pass details (docs/gate.md, "Entry policies")."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.set_door(session=session, event=event, data=data)


@router.put("/events/{event_id}/tickets/{ticket_id}/place", response_model=TicketPlacePublic)
def put_place(
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    data: TicketPlaceBase,
    session: SessionDep,
    organiser: OrganiserDep,
) -> TicketPlacePublic:
    """Where a ticket sits (section, row, seat), shown on its pass."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.set_place(session=session, event=event, ticket_id=ticket_id, data=data)
