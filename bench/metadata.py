"""Token metadata under load, and the organiser report's build time (what the dashboard's polling costs).

    python -m bench.metadata [--tickets 200] [--seconds 5] [--connections 8] [--report-tickets 10000]

Metadata: a local anvil with one collection of `tickets` minted tickets, a SQLite gateway with the event
registered, the gateway as one process of one worker, and wrk (keep-alive, closed loop) GETting the tokens'
metadata round-robin: the JSON with the per-process chain cache on (`metadata_cache_seconds` 5: the steady
state of wallets re-reading popular tokens), with it off (every request reads the chain), the SVG image, and a
revalidation (`If-None-Match` with the ETag: 304, no body). Every run's answers are checked first (200 and the
token's name; 304 on revalidation); a wrk status error (a 404 or 5xx) counts as an error.

Report: `report-tickets` tickets, as many gate admissions over two gates, a tenth as many refusals, written
straight into a SQLite database; then `event_report` (JSON) timed 5 times, median (the dashboard asks every 5
s per viewer).

Writes bench/results/metadata.json. Never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlmodel import Session

import ticketkit as tk
from gateway import process as gateway_process
from gateway.core.config import Settings
from gateway.main import create_app
from gateway.models import Admission, EventCreate, GateRefusal, OrganiserCreate, Ticket, utcnow
from gateway.services import report as report_service
from gateway.services.events import register_event
from gateway.services.organisers import create_gate_key, create_organiser
from ticketkit.chain import free_port

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "metadata.json"


def _collection(chain: tk.Chain, organiser, holders: list[str]) -> tk.Collection:
    platform = tk.deploy_platform(chain, organiser)
    now = chain.timestamp()
    badge = platform.create_badge("Bench badges", "BB", salt=f"bb-{secrets.token_hex(4)}", sender=organiser)
    collection = platform.create_collection(
        tk.EventConfig(
            "Metadata bench", "META", start_time=now + 30 * 86400, transfer_lock_time=now + 29 * 86400
        ),
        [
            tk.TierConfig(
                "General",
                face_value=10**16,
                supply=len(holders),
                sale_start=now,
                sale_end=now + 20 * 86400,
                max_per_wallet=len(holders),
            )
        ],
        salt=f"meta-bench-{secrets.token_hex(4)}",
        badge=badge,
        sender=organiser,
    )
    for start in range(0, len(holders), 100):
        collection.mint_batch(0, holders[start : start + 100], sender=organiser)
    return collection


def _wrk(url: str, paths: Path, seconds: int, connections: int, revalidate: bool = False) -> dict[str, float]:
    run = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "wrk" / "paths.lua"),
            url,
            "--",
            str(paths),
        ],
        env={**os.environ, "IF_NONE_MATCH": "1" if revalidate else "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    errors = sum(
        figures[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return {
        "rps": round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "errors": errors,
    }


def measure_metadata(tickets: int, seconds: int, connections: int) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="metadata-bench-"))
    result: dict[str, float] = {}
    try:
        with tk.local_chain() as chain:
            organiser = chain.account(0)
            holders = [chain.account(1 + i % 8).address for i in range(tickets)]
            collection = _collection(chain, organiser, holders)
            base = Settings(
                database_url=f"sqlite:///{directory / 'meta.db'}",
                rpc_url=chain.url,
                chain_id=chain.chain_id,
                key_encryption_secret=secrets.token_hex(32),
            )
            app = create_app(base)
            with Session(app.state.runtime.engine) as session:
                org, _ = create_organiser(session=session, data=OrganiserCreate(name="Bench"))
                register_event(
                    session=session,
                    chain=app.state.runtime.chain(),
                    organiser=org,
                    data=EventCreate(collection_address=collection.address, name="Metadata bench"),
                )
            app.state.runtime.dispose()
            prefix = f"/metadata/{chain.chain_id}/{collection.address}"
            for label, cache in (("cached", 5.0), ("uncached", 0.0)):
                settings = base.model_copy(update={"metadata_cache_seconds": cache})
                port = free_port()
                process = gateway_process.spawn(settings, port=port, run_migrations=False)
                url = f"http://127.0.0.1:{port}"
                try:
                    gateway_process.wait_serving(url, process)
                    lines = []
                    with httpx.Client(base_url=url) as client:
                        for token in range(1, tickets + 1):
                            answer = client.get(f"{prefix}/{token}")
                            if answer.status_code != 200 or not answer.json()["name"].endswith(f"#{token}"):
                                raise RuntimeError(f"token {token}: {answer.status_code} {answer.text[:200]}")
                            lines.append(f"{prefix}/{token} {answer.headers['etag']}")
                        if (
                            client.get(
                                f"{prefix}/1", headers={"If-None-Match": lines[0].split()[1]}
                            ).status_code
                            != 304
                        ):
                            raise RuntimeError("no 304 on a matching ETag")
                    paths = directory / "paths.txt"
                    paths.write_text("\n".join(lines) + "\n")
                    _wrk(url, paths, 2, connections)  # warm-up
                    runs = {f"json_{label}": _wrk(url, paths, seconds, connections)}
                    if label == "cached":
                        runs["revalidate_304"] = _wrk(url, paths, seconds, connections, revalidate=True)
                        svg = directory / "svg.txt"
                        svg.write_text("".join(f"{line.split()[0]}/image.svg\n" for line in lines))
                        runs["svg_cached"] = _wrk(url, svg, seconds, connections)
                    for name, figures in runs.items():
                        for key, value in figures.items():
                            result[f"metadata.{name}_{key}"] = value
                finally:
                    gateway_process.stop(process, timeout=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return result | {"metadata.tickets": tickets, "metadata.connections": connections}


def measure_report(tickets: int) -> dict[str, float]:
    """`event_report` over `tickets` tickets, as many admissions and tickets / 10 refusals (SQLite)."""
    directory = Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        with tk.local_chain() as chain:
            organiser = chain.account(0)
            collection = _collection(chain, organiser, [chain.account(1).address])
            settings = Settings(
                database_url=f"sqlite:///{directory / 'report.db'}",
                rpc_url=chain.url,
                chain_id=chain.chain_id,
                key_encryption_secret=secrets.token_hex(32),
            )
            app = create_app(settings)
            engine = app.state.runtime.engine
            with Session(engine) as session:
                org, _ = create_organiser(session=session, data=OrganiserCreate(name="Bench"))
                event = register_event(
                    session=session,
                    chain=app.state.runtime.chain(),
                    organiser=org,
                    data=EventCreate(collection_address=collection.address, name="Report bench"),
                )
                gates = [
                    create_gate_key(session=session, event=event, label=f"Gate {i}")[0] for i in range(2)
                ]
                start = utcnow() - timedelta(hours=2)
                rows = [
                    {
                        "id": uuid.uuid4(),
                        "event_id": event.id,
                        "chain_id": chain.chain_id,
                        "contract": collection.address,
                        "token_id": i + 1,
                        "tier_id": 0,
                        "created_at": start - timedelta(days=30) + timedelta(seconds=i * 60),
                    }
                    for i in range(tickets)
                ]
                session.execute(insert(Ticket), rows)
                session.execute(
                    insert(Admission),
                    [
                        {
                            "id": uuid.uuid4(),
                            "event_id": event.id,
                            "ticket_id": r["id"],
                            "token_id": r["token_id"],
                            "gate_key_id": gates[i % 2].id,
                            "source": "online",
                            "chain_status": "done",
                            "scanned_at": start + timedelta(seconds=i * 0.5),
                            "admitted_at": start + timedelta(seconds=i * 0.5),
                        }
                        for i, r in enumerate(rows)
                    ],
                )
                session.execute(
                    insert(GateRefusal),
                    [
                        {
                            "id": uuid.uuid4(),
                            "event_id": event.id,
                            "gate_key_id": gates[i % 2].id,
                            "reason": ("expired_code", "bad_signature", "already_checked_in")[i % 3],
                            "source": "online",
                            "scanned_at": start + timedelta(seconds=i * 5),
                            "created_at": start,
                        }
                        for i in range(tickets // 10)
                    ],
                )
                session.commit()
                times = []
                for _ in range(5):
                    began = time.perf_counter()
                    built = report_service.event_report(
                        session=session,
                        event=event,
                        block_times=report_service.chain_block_times(app.state.runtime.chain),
                        royalty_bps=report_service.chain_royalty_bps(
                            app.state.runtime.chain, collection.address
                        ),
                    )
                    built.model_dump_json()
                    times.append(time.perf_counter() - began)
                if built.attendance.checked_in != tickets:
                    raise RuntimeError(f"report counted {built.attendance.checked_in} of {tickets}")
            app.state.runtime.dispose()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"report.tickets": tickets, "report.build_ms": round(statistics.median(times) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metadata", description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--report-tickets", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `apt-get install -y wrk` (make bench installs it)")
    load_start = round(os.getloadavg()[0], 2)
    result = measure_metadata(args.tickets, args.seconds, args.connections) | measure_report(
        args.report_tickets
    )
    result["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # other work on the machine lowers every rate here: say how busy it was
    result["metadata.loadavg_1m_start"], result["metadata.loadavg_1m_end"] = (
        load_start,
        round(os.getloadavg()[0], 2),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    for key, value in sorted(result.items()):
        print(f"{key:40} {value}")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
