from __future__ import annotations

from sqlmodel import Session

from ..core.security import hash_token, new_token
from ..models import ApiKey, Organiser, OrganiserCreate


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
