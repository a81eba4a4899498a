"""A stadium's gate list: an 80,000-ticket event with 40 gates, its signed snapshot built, refreshed by delta
and loaded in the scanner page in Chromium.

    python -m bench.snapshot [--tickets 80000] [--gates 40] [--changes 100] [--out
    bench/results/snapshot.json]

A SQLite gateway database (migrated) seeded with plain INSERTs: one event, `--gates` gate keys, `--tickets`
tickets, each with its own P-256 device key (a real point: the keys are what a list is mostly made of, and
random bytes do not compress), a quarter already admitted. The seed rows are dated an hour ago.

- `snapshot.build_s`: gate.snapshot() for the whole event (query + JSON + signature), median of 3;
- `snapshot.bytes`, `snapshot.gzip_bytes`: its payload's UTF-8 bytes, and gzip -6 of them (what a compressed
  transfer or a phone's storage would hold);
- `snapshot.delta_ms`: gate.snapshot(since=cursor) after `--changes` changes (half admissions, half keys
  linked again), median of 5; `snapshot.delta_tickets` how many tickets it carried (the changes, nothing
  else);
- `snapshot.scanner_ready_s`: Chromium (Debian's) opens /app/scanner with a gate key and no list kept, until
  the page shows the whole list (fetched over HTTP from uvicorn, signature verified, parsed); `snapshot.
  scanner_reload_s`: the same page reloaded, the list from IndexedDB (verified again);
- `snapshot.offline_decision_ms`: one offline decision in the page (Snapshot.decide: parse, lookup, key
  import, ECDSA verify, rules), median over 20 different tickets' codes.

Goals (bench/run_all.py): build <= 2 s, <= 4 MB compressed, delta <= 50 ms, scanner ready <= 3 s, an offline
decision <= 5 ms. Writes bench/results/snapshot.json (--out). Never a timed test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from sqlalchemy import insert
from sqlmodel import Session

from gateway import db
from gateway.core import codes
from gateway.core.config import Settings
from gateway.core.security import hash_token
from gateway.main import create_app
from gateway.models import Admission, ApiKey, DeviceKey, Event, Organiser, Ticket, Tier
from gateway.services import gate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CHROMIUM = "/usr/bin/chromium"
SAMPLE_KEYS = 20  # tickets whose private keys are kept, to sign codes for the page


def _seed(settings: Settings, tickets: int, gates: int) -> dict:
    engine = db.make_engine(settings.database_url)
    past = datetime.now(UTC) - timedelta(hours=1)
    organiser_id, event_id = uuid.uuid4(), uuid.uuid4()
    collection = "0x" + secrets.token_hex(20)
    gate_tokens = [f"tkg_{secrets.token_urlsafe(24)}" for _ in range(gates)]
    key_ids = [uuid.uuid4() for _ in range(gates)]
    ticket_ids = [uuid.uuid4() for _ in range(tickets)]
    private: dict[uuid.UUID, object] = {}
    t0 = time.perf_counter()
    keys = []
    for i, ticket_id in enumerate(ticket_ids):
        key = codes.new_device_key()
        if i % (tickets // SAMPLE_KEYS) == 1 and len(private) < SAMPLE_KEYS:
            private[ticket_id] = key
        keys.append(codes.public_key_text(key))
    holder = "0x" + "ab" * 20
    with engine.begin() as conn:
        conn.execute(
            insert(Organiser.__table__), [{"id": organiser_id, "name": "Stadium", "created_at": past}]
        )
        conn.execute(
            insert(Event.__table__),
            [
                {
                    "id": event_id,
                    "organiser_id": organiser_id,
                    "chain_id": 31337,
                    "collection_address": collection,
                    "name": "Cup final",
                    "created_at": past,
                }
            ],
        )
        conn.execute(
            insert(Tier.__table__),
            [
                {
                    "id": uuid.uuid4(),
                    "event_id": event_id,
                    "tier_id": tier,
                    "name": name,
                    "face_value_wei": "0",
                    "supply": tickets,
                    "max_per_wallet": 10,
                }
                for tier, name in enumerate(["General", "Family", "Hospitality"])
            ],
        )
        conn.execute(
            insert(ApiKey.__table__),
            [
                {
                    "id": key_ids[i],
                    "organiser_id": organiser_id,
                    "key_hash": hash_token(gate_tokens[i]),
                    "role": "gate",
                    "event_id": event_id,
                    "label": f"Gate {i + 1}",
                    "created_at": past,
                }
                for i in range(gates)
            ],
        )
        conn.execute(
            insert(Ticket.__table__),
            [
                {
                    "id": ticket_id,
                    "event_id": event_id,
                    "chain_id": 31337,
                    "contract": collection,
                    "token_id": n + 1,
                    "tier_id": n % 3,
                    "created_at": past,
                }
                for n, ticket_id in enumerate(ticket_ids)
            ],
        )
        conn.execute(
            insert(DeviceKey.__table__),
            [
                {
                    "id": uuid.uuid4(),
                    "ticket_id": ticket_id,
                    "public_key": key,
                    "holder": holder,
                    "bound_by": "wallet",
                    "created_at": past,
                }
                for ticket_id, key in zip(ticket_ids, keys)
            ],
        )
        conn.execute(
            insert(Admission.__table__),
            [
                {
                    "id": uuid.uuid4(),
                    "event_id": event_id,
                    "ticket_id": ticket_id,
                    "token_id": n + 1,
                    "gate_key_id": key_ids[n % gates],
                    "device": "seed",
                    "source": "online",
                    "nonce": None,
                    "scanned_at": past,
                    "admitted_at": past,
                    "chain_status": "done",
                    "batch_id": None,
                }
                for n, ticket_id in enumerate(ticket_ids)
                if n % 4 == 0 and ticket_id not in private
            ],
        )
    engine.dispose()
    print(f"  seeded {tickets} tickets, {gates} gates in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return {
        "event_id": event_id,
        "gate_token": gate_tokens[0],
        "gate_key": gate.GateKeyRef(key_ids[0], event_id, "Gate 1"),
        "ticket_ids": ticket_ids,
        "private": private,
        "key_ids": key_ids,
    }


def _change(settings: Settings, seeded: dict, changes: int) -> None:
    """`changes` tickets change: half are admitted, half get a phone key linked again."""
    engine = db.make_engine(settings.database_url)
    now = datetime.now(UTC)
    targets = [t for n, t in enumerate(seeded["ticket_ids"]) if n % 4 != 0 and t not in seeded["private"]][
        :changes
    ]
    with engine.begin() as conn:
        for i, ticket_id in enumerate(targets):
            if i % 2 == 0:
                conn.execute(
                    insert(Admission.__table__),
                    [
                        {
                            "id": uuid.uuid4(),
                            "event_id": seeded["event_id"],
                            "ticket_id": ticket_id,
                            "token_id": 0,
                            "gate_key_id": seeded["key_ids"][i % len(seeded["key_ids"])],
                            "device": "bench",
                            "source": "online",
                            "nonce": None,
                            "scanned_at": now,
                            "admitted_at": now,
                            "chain_status": "queued",
                            "batch_id": None,
                        }
                    ],
                )
            else:
                conn.execute(
                    DeviceKey.__table__.update()
                    .where(DeviceKey.__table__.c.ticket_id == ticket_id)
                    .values(revoked_at=now)
                )
                conn.execute(
                    insert(DeviceKey.__table__),
                    [
                        {
                            "id": uuid.uuid4(),
                            "ticket_id": ticket_id,
                            "created_at": now,
                            "holder": "0x" + "ab" * 20,
                            "public_key": codes.public_key_text(codes.new_device_key()),
                            "bound_by": "wallet",
                        }
                    ],
                )
    engine.dispose()


def _serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def _in_chromium(url: str, seeded: dict, tickets: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    codes_for = [codes.sign_code(key, ticket_id) for ticket_id, key in seeded["private"].items()]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_context().new_page()
        started = time.perf_counter()
        page.goto(f"{url}/app/scanner#key={seeded['gate_token']}")
        page.wait_for_selector(f'#bar[data-snapshot-tickets="{tickets}"]', timeout=120_000, state="attached")
        ready = time.perf_counter() - started
        started = time.perf_counter()
        page.reload()
        page.wait_for_selector(f'#bar[data-snapshot-tickets="{tickets}"]', timeout=120_000, state="attached")
        reload = time.perf_counter() - started
        timings = page.evaluate(
            """async (codes) => {
            const {Snapshot} = await import("./static/offline.js");
            const store = await import("./static/store.js");
            const kept = await store.get("gate-lists", "list");
            const list = new Snapshot(JSON.parse(kept.snapshot.payload));
            const out = [];
            for (const code of codes) {
                const started = performance.now();
                const answer = await list.decide(code, Date.now());
                out.push([performance.now() - started, answer.admit]);
            }
            return out;
        }""",
            codes_for,
        )
        browser.close()
    assert all(admit for _, admit in timings), timings  # every sampled ticket admits
    return {
        "scanner_ready_s": round(ready, 3),
        "scanner_reload_s": round(reload, 3),
        "offline_decision_ms": round(statistics.median(ms for ms, _ in timings), 3),
        "offline_decision_max_ms": round(max(ms for ms, _ in timings), 3),
    }


def measure(tickets: int, gates: int, changes: int) -> dict[str, float]:
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tk-snapshot-") as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/gateway.db",
            key_encryption_secret="bench-snapshot",
            run_migrations=False,
        )
        db.upgrade(settings.database_url)
        seeded = _seed(settings, tickets, gates)
        app = create_app(settings)
        engine = app.state.runtime.engine
        builds = []
        for _ in range(3):
            with Session(engine) as session:
                started = time.perf_counter()
                payload, _, _ = gate.snapshot(session=session, settings=settings, gate_key=seeded["gate_key"])
                builds.append(time.perf_counter() - started)
        raw = payload.encode()
        cursor = json.loads(payload)["cursor"]
        _change(settings, seeded, changes)
        deltas, carried = [], 0
        for _ in range(5):
            with Session(engine) as session:
                started = time.perf_counter()
                delta, _, _ = gate.snapshot(
                    session=session, settings=settings, gate_key=seeded["gate_key"], since=cursor
                )
                deltas.append(time.perf_counter() - started)
            carried = len(json.loads(delta)["tickets"])
        url, server, thread = _serve(app)
        try:
            browser = _in_chromium(url, seeded, tickets)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        return {
            "tickets": tickets,
            "gates": gates,
            "build_s": round(statistics.median(builds), 3),
            "bytes": len(raw),
            "gzip_bytes": len(gzip.compress(raw, 6)),
            "delta_ms": round(statistics.median(deltas) * 1000, 2),
            "delta_changes": changes,
            "delta_tickets": carried,
            "delta_bytes": len(delta.encode()),
            **browser,
            "loadavg_1m_start": load_start,
            "loadavg_1m_end": os.getloadavg()[0],
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=80_000)
    parser.add_argument("--gates", type=int, default=40)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "snapshot.json")
    args = parser.parse_args()
    result = measure(args.tickets, args.gates, args.changes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
