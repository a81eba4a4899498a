from __future__ import annotations

import uuid

from eth_utils import to_checksum_address
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import ticketkit as tk

from ..errors import Conflict, NotFound, Unprocessable
from ..models import Event, EventCreate, Organiser, Tier

ZERO = "0x0000000000000000000000000000000000000000"


def register_event(*, session: Session, chain: tk.Chain, organiser: Organiser, data: EventCreate) -> Event:
    """The only write path for events: registers an existing collection, reading its tiers from chain."""
    address = to_checksum_address(data.collection_address)
    if not chain.w3.eth.get_code(address):
        raise Unprocessable(f"no contract at {address}", code="not_a_collection")
    collection = tk.Collection(chain, address)
    try:
        info = collection.event_info()
        tiers = collection.tiers()
    except (tk.ContractRevert, tk.TransactionFailed) as error:
        raise Unprocessable(f"{address} is not a ticket collection", code="not_a_collection") from error
    except Exception as error:  # web3 decoding errors on a foreign contract
        if isinstance(error, tk.ChainError):
            raise
        raise Unprocessable(f"{address} is not a ticket collection", code="not_a_collection") from error
    existing = session.exec(select(Event).where(Event.chain_id == chain.chain_id,
                                                Event.collection_address == address)).first()
    if existing is not None:
        raise Conflict("this collection is already registered", code="event_exists", event_id=str(existing.id))
    event = Event(organiser_id=organiser.id, name=data.name, chain_id=chain.chain_id, collection_address=address,
                  badge_address=None if info["badge"] == ZERO else info["badge"])
    session.add(event)
    session.flush()
    for t in tiers:
        session.add(Tier(event_id=event.id, tier_id=t.tier_id, name=t.name, face_value_wei=str(t.face_value),
                         supply=t.supply, max_per_wallet=t.max_per_wallet))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("this collection is already registered", code="event_exists") from None
    session.refresh(event)
    return event


def event_tiers(*, session: Session, event: Event) -> list[Tier]:
    return list(session.exec(select(Tier).where(Tier.event_id == event.id).order_by(Tier.tier_id)))


def organiser_event(*, session: Session, organiser: Organiser, event_id: uuid.UUID) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.organiser_id != organiser.id:
        raise NotFound("no such event", code="event_not_found")
    return event
