"""A tier's trusted-attendee presale: the rule and snapshots (the organiser), eligibility and proofs (anyone).

Writes need the event's organiser API key. Reads are public: badges, the rule (once published with
setPresale) and the snapshot's addresses are all on chain or recomputable from it, so an answer for an
address reveals nothing the chain does not. Without `?address=`, a fan's session token asks for the fan's
custodial address and linked wallet.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, Path
from sqlmodel import Session

from ...errors import Unprocessable
from ...models import (
    Event,
    PresaleEligibility,
    PresaleProof,
    PresaleRule,
    PresaleRuleCreate,
    PresaleRulePublic,
    PresaleSnapshot,
    PresaleSnapshotCreate,
    PresaleSnapshotDetail,
    PresaleSnapshotPublic,
)
from ...services import events as event_service
from ...services import presale as service
from ..deps import Credentials, OrganiserDep, RuntimeDep, SessionDep, fan_in_thread
from ..routing import OneTripRoute

router = APIRouter(prefix="/events/{event_id}/tiers/{tier_id}", tags=["presale"], route_class=OneTripRoute)
TierId = Annotated[int, Path(ge=0, lt=2**16)]


def _addresses(
    session: Session, runtime: RuntimeDep, credentials: Credentials, address: str | None
) -> list[str]:
    """`?address=` if given, else the fan's custodial address and linked wallet (session token)."""
    if address is not None:
        if not is_address(address):
            raise Unprocessable(f"{address!r} is not an address", code="invalid_address")
        return [to_checksum_address(address)]
    if credentials is None:
        raise Unprocessable("give ?address=0x... or a fan session token", code="address_required")
    fan = fan_in_thread(session, credentials, runtime)
    return [fan.address] + ([fan.wallet_address] if fan.wallet_address else [])


def _rule_public(session: Session, rule: PresaleRule) -> PresaleRulePublic:
    return PresaleRulePublic(
        event_id=rule.event_id,
        tier_id=rule.tier_id,
        kind=rule.kind,
        n=rule.n,
        min_events=rule.min_events,
        events=service.rule_events(session=session, rule=rule),
    )


def _snapshot_public(runtime: RuntimeDep, event: Event, snapshot: PresaleSnapshot) -> PresaleSnapshotPublic:
    return PresaleSnapshotPublic(
        id=snapshot.id,
        block=snapshot.block,
        root=snapshot.root,
        count=len(json.loads(snapshot.addresses)),
        published=service.is_published(chain=runtime.chain(), event=event, snapshot=snapshot),
        publish_command=service.publish_command(event=event, snapshot=snapshot),
    )


@router.put("/presale-rule", response_model=PresaleRulePublic)
def set_rule(
    event_id: uuid.UUID,
    tier_id: TierId,
    data: PresaleRuleCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
) -> PresaleRulePublic:
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    rule = service.set_rule(
        session=session, chain=runtime.chain(), organiser=organiser, event=event, tier_id=tier_id, data=data
    )
    return _rule_public(session, rule)


@router.get("/presale-rule", response_model=PresaleRulePublic)
def get_rule(event_id: uuid.UUID, tier_id: TierId, session: SessionDep) -> PresaleRulePublic:
    event = service.public_event(session=session, event_id=event_id)
    return _rule_public(session, service.get_rule(session=session, event=event, tier_id=tier_id))


@router.get("/presale-eligibility", response_model=PresaleEligibility)
def eligibility(
    event_id: uuid.UUID,
    tier_id: TierId,
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Credentials,
    address: str | None = None,
) -> PresaleEligibility:
    event = service.public_event(session=session, event_id=event_id)
    addresses = _addresses(session, runtime, credentials, address)
    return service.eligibility(
        session=session, chain=runtime.chain(), event=event, tier_id=tier_id, addresses=addresses
    )


@router.post("/presale-snapshot", status_code=201, response_model=PresaleSnapshotPublic)
def take_snapshot(
    event_id: uuid.UUID,
    tier_id: TierId,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    data: PresaleSnapshotCreate | None = None,
) -> PresaleSnapshotPublic:
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    snapshot = service.take_snapshot(
        session=session,
        chain=runtime.chain(),
        event=event,
        tier_id=tier_id,
        block=data.block if data else None,
    )
    return _snapshot_public(runtime, event, snapshot)


@router.get("/presale-snapshot", response_model=PresaleSnapshotDetail)
def get_snapshot(
    event_id: uuid.UUID, tier_id: TierId, session: SessionDep, runtime: RuntimeDep
) -> PresaleSnapshotDetail:
    event = service.public_event(session=session, event_id=event_id)
    snapshot = service.snapshot_detail(session=session, chain=runtime.chain(), event=event, tier_id=tier_id)
    return PresaleSnapshotDetail(
        **_snapshot_public(runtime, event, snapshot).model_dump(),
        badge_address=snapshot.badge_address,
        badge_event_ids=json.loads(snapshot.badge_event_ids),
        min_events=snapshot.min_events,
        addresses=json.loads(snapshot.addresses),
    )


@router.get("/presale-proof", response_model=PresaleProof)
def proof(
    event_id: uuid.UUID,
    tier_id: TierId,
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Credentials,
    address: str | None = None,
) -> PresaleProof:
    event = service.public_event(session=session, event_id=event_id)
    addresses = _addresses(session, runtime, credentials, address)
    chain = runtime.chain()
    found = service.proof_for(session=session, chain=chain, event=event, tier_id=tier_id, addresses=addresses)
    return PresaleProof(
        address=found.address,
        root=found.snapshot.root,
        block=found.snapshot.block,
        proof=["0x" + node.hex() for node in found.proof],
        published=service.is_published(chain=chain, event=event, snapshot=found.snapshot),
    )
