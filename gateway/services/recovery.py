"""Finishing or dropping `pending` records after a crash or a node failure mid-send.

Every write that sends a transaction commits the signed transaction and its hash before broadcasting
it, so a pending record is in one of three states: no hash yet (nothing was sent — dropped once it is
older than `stale_after` seconds, younger ones may still be in flight in another request), a hash with a
receipt (finished, or dropped if the transaction reverted), or a hash without a receipt (the recorded
transaction is sent again; if the node refuses it, the ticket's current owner decides).

Completion and dropping are claims (`UPDATE/DELETE ... WHERE status = 'pending'`), so a reconciler and
the original request racing each other apply the outcome exactly once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import delete, update
from sqlmodel import Session, select
from web3.logs import DISCARD

import ticketkit as tk

from .. import db
from ..models import Issuance, ResaleListing, ResaleSettlement, Ticket, Transfer, utcnow
from ..runtime import Runtime
from . import sending

log = logging.getLogger("gateway.recovery")

Outcome = Literal["done", "dropped", "pending"]
Record = Issuance | Transfer | ResaleSettlement


def _claim(session: Session, model: type[Record], record_id: Any) -> bool:
    result = session.execute(update(model).where(model.id == record_id, model.status == "pending")  # type: ignore[arg-type]
                             .values(status="done").execution_options(synchronize_session=False))
    return result.rowcount == 1


# ---- completing (the transaction is mined and succeeded)
def complete_issuance(session: Session, runtime: Runtime, issuance: Issuance, receipt: Any) -> Issuance:
    if _claim(session, Issuance, issuance.id):
        from ..models import Event

        event = session.get(Event, issuance.event_id)
        collection = tk.Collection(runtime.chain(), event.collection_address)  # type: ignore[union-attr]
        [minted] = collection.contract.events.TicketsMinted().process_receipt(receipt, errors=DISCARD)
        first = minted["args"]["firstTokenId"]
        rows = [{"id": uuid.uuid4(), "event_id": event.id, "chain_id": event.chain_id,  # type: ignore[union-attr]
                 "contract": event.collection_address, "token_id": token_id,  # type: ignore[union-attr]
                 "tier_id": issuance.tier_id, "owner_fan_id": issuance.fan_id, "issuance_id": issuance.id,
                 "created_at": utcnow()} for token_id in range(first, first + issuance.quantity)]
        # The indexer may have recorded the mint first (a ticket without issuance): it becomes this one's.
        insert = db.insert(session.get_bind().dialect.name, Ticket.__table__).values(rows)
        session.execute(insert.on_conflict_do_update(index_elements=["chain_id", "contract", "token_id"],
                                                     set_={"issuance_id": insert.excluded.issuance_id}))
    session.commit()
    session.refresh(issuance)
    return issuance


def _cancel_active_listings(session: Session, ticket_id: Any) -> None:
    for listing in session.exec(select(ResaleListing).where(ResaleListing.ticket_id == ticket_id,
                                                            ResaleListing.status == "active")):
        listing.status = "cancelled"
        session.add(listing)


def complete_gift(session: Session, transfer: Transfer) -> Transfer:
    if _claim(session, Transfer, transfer.id):
        ticket = session.get(Ticket, transfer.ticket_id)
        ticket.owner_fan_id = transfer.to_fan_id  # type: ignore[union-attr]
        session.add(ticket)
        _cancel_active_listings(session, transfer.ticket_id)
    session.commit()
    session.refresh(transfer)
    return transfer


def complete_settlement(session: Session, settlement: ResaleSettlement) -> ResaleSettlement:
    if _claim(session, ResaleSettlement, settlement.id):
        ticket = session.get(Ticket, settlement.ticket_id)
        ticket.owner_fan_id = settlement.buyer_fan_id  # type: ignore[union-attr]
        listing = session.get(ResaleListing, settlement.listing_id)
        listing.status = "sold"  # type: ignore[union-attr]
        transfer = Transfer(ticket_id=settlement.ticket_id, from_fan_id=settlement.seller_fan_id,
                            to_fan_id=settlement.buyer_fan_id, kind="resale", price_wei=settlement.price_wei,
                            idempotency_key=f"settlement:{settlement.id}", request_hash=settlement.request_hash,
                            status="done", tx_hash=settlement.tx_hash)
        session.add_all([ticket, listing, transfer])
        session.flush()
        session.execute(update(ResaleSettlement).where(ResaleSettlement.id == settlement.id)  # type: ignore[arg-type]
                        .values(transfer_id=transfer.id).execution_options(synchronize_session=False))
        _cancel_active_listings(session, settlement.ticket_id)
    session.commit()
    session.refresh(settlement)
    return settlement


# ---- dropping (nothing happened on chain: the key can be used again)
def drop(session: Session, record: Record) -> bool:
    model = type(record)
    session.rollback()
    result = session.execute(delete(model).where(model.id == record.id, model.status == "pending")  # type: ignore[arg-type]
                             .execution_options(synchronize_session=False))
    dropped = result.rowcount == 1
    if dropped and isinstance(record, ResaleSettlement):
        session.execute(update(ResaleListing).where(ResaleListing.id == record.listing_id,  # type: ignore[arg-type]
                                                    ResaleListing.status == "settling")
                        .values(status="active").execution_options(synchronize_session=False))
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


# ---- deciding
def _age(record: Record) -> timedelta:
    created = record.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - created


def _recipient(session: Session, record: Record) -> str | None:
    from ..models import Fan

    if isinstance(record, Issuance):
        return None
    fan_id = record.buyer_fan_id if isinstance(record, ResaleSettlement) else record.to_fan_id
    fan = session.get(Fan, fan_id)
    return fan.address if fan is not None else None


def reconcile_record(session: Session, runtime: Runtime, record: Record, *, stale_after: float = 60,
                     wait_seconds: float = 10) -> Outcome:
    """Finish or drop one pending record from what the chain says; 'pending' if it cannot tell yet."""
    if record.status != "pending":
        return "done"
    if record.tx_hash is None:
        if _age(record) < timedelta(seconds=stale_after):
            return "pending"  # maybe still being prepared by the request that made it
        return "dropped" if drop(session, record) else "done"
    chain = runtime.chain()
    receipt = sending.receipt_of(chain, record.tx_hash)
    if receipt is None and record.raw_tx and sending.rebroadcast(chain, record.raw_tx):
        try:
            receipt = chain.w3.eth.wait_for_transaction_receipt(record.tx_hash, timeout=wait_seconds,  # type: ignore[arg-type]
                                                                poll_latency=0.05)
        except Exception:  # noqa: BLE001 - not mined yet: still pending
            return "pending"
    if receipt is not None:
        if receipt["status"] == 1:
            complete(session, runtime, record, receipt)
            return "done"
        return "dropped" if drop(session, record) else "done"
    # The node refuses the recorded transaction (its nonce was used by another) and has no receipt for it.
    recipient = _recipient(session, record)
    ticket = session.get(Ticket, record.ticket_id) if not isinstance(record, Issuance) else None
    if recipient is not None and ticket is not None:
        owner = tk.Collection(chain, ticket.contract).owner_of(ticket.token_id)
        if owner.lower() == recipient.lower():
            complete(session, runtime, record, None)
            return "done"
    return "dropped" if drop(session, record) else "done"


def reconcile_pending(session: Session, runtime: Runtime, *, stale_after: float = 60) -> dict[str, int]:
    """Reconcile every pending issuance, gift and settlement; returns how many ended in each outcome."""
    counts = {"done": 0, "dropped": 0, "pending": 0}
    for model in (Issuance, Transfer, ResaleSettlement):
        ids = list(session.exec(select(model.id).where(model.status == "pending")))  # type: ignore[attr-defined]
        for record_id in ids:
            record = session.get(model, record_id)
            if record is None:
                continue
            try:
                outcome = reconcile_record(session, runtime, record, stale_after=stale_after)
            except tk.TicketkitError as error:
                log.warning("could not reconcile %s %s: %s", model.__tablename__, record_id, error)
                session.rollback()
                outcome = "pending"
            counts[outcome] += 1
    return counts
