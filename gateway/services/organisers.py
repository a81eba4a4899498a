from __future__ import annotations

from sqlmodel import Session

from ..core.security import hash_token, new_token
from ..models import ApiKey, Event, Organiser, OrganiserCreate


def create_organiser(*, session: Session, data: OrganiserCreate) -> tuple[Organiser, str]:
    """The only write path for organisers: the organiser and its first API key (returned once)."""
    organiser = Organiser.model_validate(data)
    token = new_token("tko")
    session.add(organiser)
    session.flush()
    session.add(ApiKey(organiser_id=organiser.id, key_hash=hash_token(token), role="organiser"))
    session.commit()
    session.refresh(organiser)
    return organiser, token


def create_gate_key(*, session: Session, event: Event, label: str | None = None) -> tuple[ApiKey, str]:
    """A `gate` API key for one event of the event's organiser (returned once; stored as a hash). `label`
    names the gate ("North door") in admissions, conflicts and reports."""
    token = new_token("tkg")
    key = ApiKey(organiser_id=event.organiser_id, key_hash=hash_token(token), role="gate", event_id=event.id,
                 label=label)
    session.add(key)
    session.commit()
    session.refresh(key)
    return key, token
