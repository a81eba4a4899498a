"""The outcomes of issuances, gifts and resale settlements, applied by the sending worker
(services/sending.py) once their transaction is final: `done` (tickets recorded or moved), or dropped (the
contract reverted, or the transaction can never be mined: nothing happened on chain, so the Idempotency-Key
can be used again).

Completion and dropping are claims (`UPDATE/DELETE ... WHERE status = 'pending'`), so an outcome applied twice
(a worker that dies between applying it and marking its outbox row) takes effect once.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

from sqlalchemy import delete, update
from sqlmodel import Session, col, select
from web3.logs import DISCARD

import ticketkit as tk

from .. import db
from ..models import (
    Issuance,
    ListingStatus,
    ResaleListing,
    ResaleSettlement,
    SendStatus,
    Ticket,
    Transfer,
    utcnow,
)
from ..runtime import Runtime

log = logging.getLogger("gateway.recovery")

Record = Issuance | Transfer | ResaleSettlement


def _claim(session: Session, model: type[Record], record_id: Any, tx_hash: str | None = None) -> bool:
    values: dict[str, Any] = {"status": SendStatus.done}
    if tx_hash is not None:
        values["tx_hash"] = tx_hash
    result = session.execute(
        update(model)
        .where(col(model.id) == record_id, col(model.status) == SendStatus.pending)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return db.rowcount(result) == 1


# ---- completing (the transaction is mined and succeeded)
def complete_issuance(session: Session, runtime: Runtime, issuance: Issuance, receipt: Any) -> Issuance:
    if _claim(session, Issuance, issuance.id, issuance.tx_hash):
        from ..models import Event

        event = session.get(Event, issuance.event_id)
        assert event is not None  # an issuance's event (a foreign key)
        collection = tk.Collection(runtime.chain(), event.collection_address)
        [minted] = collection.contract.events.TicketsMinted().process_receipt(receipt, errors=DISCARD)
        first = minted["args"]["firstTokenId"]
        rows = [
            {
                "id": uuid.uuid4(),
                "event_id": event.id,
                "chain_id": event.chain_id,
                "contract": event.collection_address,
                "token_id": token_id,
                "tier_id": issuance.tier_id,
                "owner_fan_id": issuance.fan_id,
                "issuance_id": issuance.id,
                "created_at": utcnow(),
            }
            for token_id in range(first, first + issuance.quantity)
        ]
        # The indexer may have recorded the mint first (a ticket without issuance): it becomes this one's.
        insert = db.insert(session.get_bind().dialect.name, db.table_of(Ticket)).values(rows)
        session.execute(
            insert.on_conflict_do_update(
                index_elements=["chain_id", "contract", "token_id"],
                set_={"issuance_id": insert.excluded.issuance_id},
            )
        )
    session.commit()
    session.refresh(issuance)
    return issuance


def _cancel_active_listings(session: Session, ticket_id: Any) -> None:
    for listing in session.exec(
        select(ResaleListing).where(
            ResaleListing.ticket_id == ticket_id, ResaleListing.status == ListingStatus.active
        )
    ):
        listing.status = ListingStatus.cancelled
        session.add(listing)


def complete_gift(session: Session, transfer: Transfer) -> Transfer:
    if _claim(session, Transfer, transfer.id, transfer.tx_hash):
        ticket = session.get(Ticket, transfer.ticket_id)
        assert ticket is not None  # a transfer's ticket (a foreign key)
        ticket.owner_fan_id = transfer.to_fan_id
        session.add(ticket)
        _cancel_active_listings(session, transfer.ticket_id)
    session.commit()
    session.refresh(transfer)
    return transfer


def complete_settlement(session: Session, settlement: ResaleSettlement) -> ResaleSettlement:
    if _claim(session, ResaleSettlement, settlement.id, settlement.tx_hash):
        ticket = session.get(Ticket, settlement.ticket_id)
        listing = session.get(ResaleListing, settlement.listing_id)
        assert ticket is not None and listing is not None  # a settlement's ticket and listing (foreign keys)
        ticket.owner_fan_id = settlement.buyer_fan_id
        listing.status = ListingStatus.sold
        transfer = Transfer(
            ticket_id=settlement.ticket_id,
            from_fan_id=settlement.seller_fan_id,
            to_fan_id=settlement.buyer_fan_id,
            kind="resale",
            price_wei=settlement.price_wei,
            idempotency_key=f"settlement:{settlement.id}",
            request_hash=settlement.request_hash,
            status=SendStatus.done,
            tx_hash=settlement.tx_hash,
        )
        session.add_all([ticket, listing, transfer])
        session.flush()
        session.execute(
            update(ResaleSettlement)
            .where(col(ResaleSettlement.id) == settlement.id)
            .values(transfer_id=transfer.id)
            .execution_options(synchronize_session=False)
        )
        _cancel_active_listings(session, settlement.ticket_id)
    session.commit()
    session.refresh(settlement)
    return settlement


# ---- dropping (nothing happened on chain: the key can be used again)
def drop(session: Session, record: Record) -> bool:
    model = type(record)
    session.rollback()
    result = session.execute(
        delete(model)
        .where(col(model.id) == record.id, col(model.status) == SendStatus.pending)
        .execution_options(synchronize_session=False)
    )
    dropped = db.rowcount(result) == 1
    if dropped and isinstance(record, ResaleSettlement):
        session.execute(
            update(ResaleListing)
            .where(
                col(ResaleListing.id) == record.listing_id,
                col(ResaleListing.status) == ListingStatus.settling,
            )
            .values(status=ListingStatus.active)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    if record in session:
        session.expunge(record)
    return dropped


def complete(session: Session, runtime: Runtime, record: Record, receipt: Any) -> Record:
    if isinstance(record, Issuance):
        return complete_issuance(session, runtime, record, receipt)
    if isinstance(record, ResaleSettlement):
        return complete_settlement(session, record)
    return complete_gift(session, record)


# ---- applying (called by the sending worker)
KINDS: dict[str, type[Record]] = {
    "issuance": Issuance,
    "gift": Transfer,
    "settlement": ResaleSettlement,
}


def apply_outcome(runtime: Runtime, row: Any, receipt: Any | None) -> str:
    """Complete the record of outbox `row` with its successful `receipt`, or drop it (`receipt` None): 'done',
    'dropped', or 'gone' (the record was already decided)."""
    model = KINDS[row.kind]
    with Session(runtime.engine) as session:
        # one of Record's models (mypy cannot solve Session.get over a union of models)
        record = cast("Record | None", session.get(model, row.record_id))
        if record is None or record.status != SendStatus.pending:
            return "gone"
        if receipt is None:
            log.warning("%s %s dropped: %s", row.kind, row.record_id, row.error or "not mined")
            return "dropped" if drop(session, record) else "gone"
        record.tx_hash = row.mined_hash
        complete(session, runtime, record, receipt)
        return "done"
