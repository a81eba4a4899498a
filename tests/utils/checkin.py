"""The check-in queue's records (admissions, batches, their outbox rows) and what the chain says of them."""

from __future__ import annotations

import json
from collections import Counter

from sqlmodel import Session, select

import ticketkit as tk
from gateway.models import Admission, CheckinBatch
from gateway.services import sending


def chain_status(engine) -> Counter:
    with Session(engine) as session:
        return Counter(session.exec(select(Admission.chain_status)))


def batches(engine) -> list[CheckinBatch]:
    with Session(engine) as session:
        return list(session.exec(select(CheckinBatch).order_by(CheckinBatch.created_at)))


def assert_checked_in_once_with_badges(collection: tk.Collection, holders: dict[int, str]) -> None:
    """On chain: each token of `holders` (token id -> holder) has exactly one CheckedIn log, no other token of
    the collection has any, and every holder holds the event's badge (one, however many tickets)."""
    logs = collection.contract.events.CheckedIn().get_logs(from_block=0)
    per_token = Counter(entry["args"]["tokenId"] for entry in logs)
    assert per_token == Counter(holders.keys())
    assert all(collection.is_used(token_id) for token_id in holders)
    badge = collection.badge()
    event_number = badge.event_id_of(collection.address)
    for holder in set(holders.values()):
        assert badge.has_attended(holder, event_number) and badge.balance_of(holder) == 1, holder


def sent_hash(engine, batch: CheckinBatch) -> str | None:
    """The hash of the newest signed version of the batch's outbox transaction."""
    with Session(engine) as session:
        row = sending.transaction_of(session, batch.id)
    attempts = json.loads(row.attempts) if row is not None else []
    return attempts[-1]["tx_hash"] if attempts else None


def checkin_transactions(collection: tk.Collection) -> set[str]:
    return {
        entry["transactionHash"].to_0x_hex()
        for entry in collection.contract.events.CheckedIn().get_logs(from_block=0)
    }
