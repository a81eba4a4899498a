from __future__ import annotations

import uuid
from collections.abc import Iterable

from eth_utils import to_checksum_address
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import ticketkit as tk

from .. import db
from ..errors import Conflict, NotFound, Unprocessable
from ..models import Event, EventCreate, Organiser, Tier

TIERS = db.table_of(Tier)

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
    existing = session.exec(
        select(Event).where(Event.chain_id == chain.chain_id, Event.collection_address == address)
    ).first()
    if existing is not None:
        raise Conflict(
            "this collection is already registered", code="event_exists", event_id=str(existing.id)
        )
    event = Event(
        organiser_id=organiser.id,
        name=data.name,
        chain_id=chain.chain_id,
        collection_address=address,
        badge_address=None if info["badge"] == ZERO else info["badge"],
    )
    session.add(event)
    session.flush()
    save_tiers(session.connection(), event.id, tiers)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("this collection is already registered", code="event_exists") from None
    session.refresh(event)
    return event


def save_tiers(conn: Connection, event_id: uuid.UUID, tiers: Iterable[tk.Tier]) -> None:
    """Record tiers as the chain has them, new or changed (at registration, from the indexer's TierAdded and
    TierUpdated, on an organiser's refresh): the one write path for tiers."""
    rows = [
        {
            "id": uuid.uuid4(),
            "event_id": event_id,
            "tier_id": t.tier_id,
            "name": t.name,
            "face_value_wei": str(t.face_value),
            "supply": t.supply,
            "max_per_wallet": t.max_per_wallet,
        }
        for t in tiers
    ]
    if not rows:
        return
    upsert = db.insert(conn.dialect.name, TIERS)
    changed = ("name", "face_value_wei", "supply", "max_per_wallet")
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["event_id", "tier_id"], set_={c: upsert.excluded[c] for c in changed}
        ),
        rows,
    )


def refresh_tiers(*, session: Session, chain: tk.Chain, event: Event) -> list[Tier]:
    """Read every tier of the event's collection again (after `addTier`/`updateTier`, without the indexer)."""
    save_tiers(session.connection(), event.id, tk.Collection(chain, event.collection_address).tiers())
    session.commit()
    return event_tiers(session=session, event=event)


def event_tiers(*, session: Session, event: Event) -> list[Tier]:
    return list(session.exec(select(Tier).where(col(Tier.event_id) == event.id).order_by(col(Tier.tier_id))))


def organiser_event(*, session: Session, organiser: Organiser, event_id: uuid.UUID) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.organiser_id != organiser.id:
        raise NotFound("no such event", code="event_not_found")
    return event
