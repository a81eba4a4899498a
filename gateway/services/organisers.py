from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..core.security import hash_token, new_token
from ..errors import Conflict, NotFound
from ..models import ApiKey, Event, Organiser, OrganiserCreate, Role, utcnow


def create_organiser(*, session: Session, data: OrganiserCreate) -> tuple[Organiser, str]:
    """The only write path for organisers: the organiser and its first API key (returned once)."""
    organiser = Organiser.model_validate(data)
    token = new_token("tko")
    session.add(organiser)
    session.flush()
    session.add(ApiKey(organiser_id=organiser.id, key_hash=hash_token(token), role=Role.organiser))
    session.commit()
    session.refresh(organiser)
    return organiser, token


def create_gate_key(*, session: Session, event: Event, label: str | None = None) -> tuple[ApiKey, str]:
    """A `gate` API key for one event of the event's organiser (returned once; stored as a hash). `label`
    names the gate ("North door") in admissions, conflicts and reports."""
    return _new_key(session, organiser_id=event.organiser_id, role=Role.gate, event_id=event.id, label=label)


def create_api_key(*, session: Session, organiser: Organiser, label: str | None = None) -> tuple[ApiKey, str]:
    """Another organiser API key (to rotate one: create, switch, revoke the old); returned once."""
    return _new_key(session, organiser_id=organiser.id, role=Role.organiser, label=label)


def _new_key(
    session: Session,
    *,
    organiser_id: uuid.UUID,
    role: Role,
    event_id: uuid.UUID | None = None,
    label: str | None = None,
) -> tuple[ApiKey, str]:
    token = new_token("tkg" if role == Role.gate else "tko")
    key = ApiKey(
        organiser_id=organiser_id, key_hash=hash_token(token), role=role, event_id=event_id, label=label
    )
    session.add(key)
    session.commit()
    session.refresh(key)
    return key, token


def organiser_keys(*, session: Session, organiser: Organiser) -> list[ApiKey]:
    """The organiser's own API keys, revoked ones included, oldest first."""
    return list(
        session.exec(
            select(ApiKey)
            .where(ApiKey.organiser_id == organiser.id, ApiKey.role == Role.organiser)
            .order_by(col(ApiKey.created_at))
        )
    )


def gate_keys(*, session: Session, event: Event) -> list[ApiKey]:
    """The event's gate keys, revoked ones included, oldest first."""
    return list(
        session.exec(
            select(ApiKey)
            .where(ApiKey.event_id == event.id, ApiKey.role == Role.gate)
            .order_by(col(ApiKey.created_at))
        )
    )


def revoke_api_key(
    *, session: Session, organiser: Organiser, key_id: uuid.UUID, event: Event | None = None
) -> ApiKey:
    """The only write path for revoking a key: one of the organiser's own keys, or with `event`, one of that
    event's gate keys. Revoking again changes nothing. An organiser's last active key cannot be revoked
    (409 `last_organiser_key`): nobody could then manage the events. A revoked gate key stops working
    within `gate_cache_seconds` in every process."""
    key = session.get(ApiKey, key_id)
    mine = (
        key is not None
        and key.organiser_id == organiser.id
        and (
            key.role == Role.gate and key.event_id == event.id
            if event is not None
            else key.role == Role.organiser
        )
    )
    if key is None or not mine:
        raise NotFound("no such API key", code="api_key_not_found")
    if key.revoked_at is not None:
        return key
    if key.role == Role.organiser:
        active = session.exec(
            select(func.count())
            .select_from(ApiKey)
            .where(
                col(ApiKey.organiser_id) == organiser.id,
                col(ApiKey.role) == Role.organiser,
                col(ApiKey.revoked_at).is_(None),
            )
        ).one()
        if active <= 1:
            raise Conflict(
                "this is the organiser's last active API key: create another first", code="last_organiser_key"
            )
    key.revoked_at = utcnow()
    session.add(key)
    session.commit()
    session.refresh(key)
    return key
