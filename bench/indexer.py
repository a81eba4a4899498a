"""Index many events: mint tickets in batches on anvil (one Transfer per ticket), then time `poll_once`.

    python -m bench.indexer [--tickets 20000] [--chunk-size 200] [--no-postgres] \
        [--out bench/results/indexer.json]

The timed part is one `Indexer.poll_once()` over a fresh database (migrated, the collection registered):
eth_getLogs for the whole range, decoding, and the inserts (chain_events, indexed_tokens, tickets).
A benchmark, not a test: figures vary with the machine; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import func, select
from sqlmodel import Session

from gateway import db
from gateway.indexer import Indexer
from gateway.indexer.models import ChainEvent, IndexedToken
from gateway.models import EventCreate, OrganiserCreate, Ticket
from gateway.services.events import register_event
from gateway.services.organisers import create_organiser
from ticketkit import Chain, Collection, EventConfig, TierConfig, deploy_platform, local_chain
from ticketkit.batch import Recipient, mint_recipients

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def make_events(chain: Chain, tickets: int, chunk_size: int) -> Collection:
    organiser = chain.account(0)
    platform = deploy_platform(chain, organiser)
    now = chain.timestamp()
    collection = platform.create_collection(
        EventConfig("Bench gig", "BENCH", start_time=now + 86400, transfer_lock_time=now + 86000),
        [TierConfig("General", face_value=10**16, supply=tickets, sale_start=now, sale_end=now + 86400)],
        salt=f"indexer-bench-{now}",
        sender=organiser,
    )
    holders = [to_checksum_address(os.urandom(20)) for _ in range(tickets)]
    report = mint_recipients(collection, [Recipient(h, 0) for h in holders], organiser, chunk_size=chunk_size)
    assert report.done and collection.total_minted() == tickets
    return collection


def index_into(database_url: str, chain: Chain, collection: Collection) -> dict[str, Any]:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            organiser, _ = create_organiser(session=session, data=OrganiserCreate(name="Bench"))
            register_event(
                session=session,
                chain=chain,
                organiser=organiser,
                data=EventCreate(collection_address=collection.address),
            )
        indexer = Indexer(engine, chain, confirmations=0, batch_blocks=10_000)
        started = time.perf_counter()
        stats = indexer.poll_once()
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            counts = {
                name: conn.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in (
                    ("chain_events", ChainEvent),
                    ("indexed_tokens", IndexedToken),
                    ("tickets", Ticket),
                )
            }
        assert indexer.poll_once().events == 0
    finally:
        engine.dispose()
    return {
        "events": stats.events,
        "tickets_created": stats.tickets_created,
        "blocks": stats.to_block,
        "seconds": round(elapsed, 3),
        "events_per_s": round(stats.events / elapsed),
        **counts,
    }


def measure(tickets: int = 20_000, chunk_size: int = 200, postgres: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {"tickets": tickets, "chunk_size": chunk_size}
    with local_chain() as chain:
        started = time.perf_counter()
        collection = make_events(chain, tickets, chunk_size)
        result["mint_s"] = round(time.perf_counter() - started, 3)
        with tempfile.TemporaryDirectory() as tmp:
            result["sqlite"] = index_into(f"sqlite:///{Path(tmp) / 'bench.db'}", chain, collection)
        if postgres:
            import psycopg

            name = f"ticketkit_bench_{secrets.token_hex(6)}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                result["postgresql"] = index_into(
                    f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", chain, collection
                )
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--chunk-size", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", default="bench/results/indexer.json")
    args = parser.parse_args()
    result = measure(args.tickets, args.chunk_size, postgres=not args.no_postgres)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
