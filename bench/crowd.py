"""A festival crowd on the gateway: thousands of connections at once, from processes of their own.

    python -m bench.crowd [--db sqlite,postgresql] [--workers 2] [--seconds 30] [--connections 2000]

For each database: a local anvil with one collection, a gateway database seeded through the service functions
(fans with 2 tickets each and a bound device key per ticket, a gate key), then the production server
(`ticketkit-gateway`: N worker processes behind one socket) and the load from other processes:

- **client ceiling**: wrk against `GET /healthz` (no database, no thread) in the same run — the most the load
  client and the server's HTTP layer can do together here; a rate far below it is the gateway's own limit;
- **saturation**: `--connections` keep-alive connections (closed loop) for `--seconds` on `GET /fans/me/tickets`,
  then on `POST /gate/verify`: completed rate, p50/p99, answers by kind (2xx, deliberate 503s, anything else),
  then the time until a fan read answers again once the load has stopped (`recovery_s`);
- **best rate at 100 connections** on the same fan read (the no-collapse ratio's denominator);
- **the doors during a fan flood**: connections - 100 reading tickets and 100 scanning at the gate at once;
- **open loop**: a constant arrival rate (`--open-rate`, default 1,000/s) spread over `--connections` connections,
  90 % fan reads and 10 % gate scans, latency measured from each request's scheduled time (bench/openloop.py).

Closed-loop latency at 2,000 connections is mostly queueing (Little's law: connections / rate), so saturation is
judged by rate, errors and recovery, and latency by the open loop. Writes bench/results/crowd.json.
Never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
from sqlmodel import Session, select

import ticketkit as tk
from ticketkit.chain import _free_port

from bench.gate_load import _autogroups_off, _collection, _current_autogroup, _database
from gateway import process as gateway_process
from gateway.core import codes
from gateway.core.config import Settings
from gateway.main import create_app
from gateway.models import EventCreate, FanCreate, IssueRequest, OrganiserCreate, Ticket
from gateway.services import gate
from gateway.services.events import register_event
from gateway.services.fans import create_fan
from gateway.services.organisers import create_gate_key, create_organiser
from gateway.services.tickets import issue_tickets

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "wrk" / "crowd.lua"


def seed(settings: Settings, collection: tk.Collection, fans: int) -> tuple[list[str], str, dict[uuid.UUID, object]]:
    """Fans with 2 tickets each and a device key bound to every ticket; returns (fan tokens, gate key, device keys)."""
    app = create_app(settings)
    runtime = app.state.runtime
    tokens: list[str] = []
    keys: dict[uuid.UUID, object] = {}
    with Session(runtime.engine) as session:
        organiser, _ = create_organiser(session=session, data=OrganiserCreate(name="Crowd organiser"))
        event = register_event(session=session, chain=runtime.chain(), organiser=organiser,
                               data=EventCreate(collection_address=collection.address, name="Crowd bench"))
        _, gate_token = create_gate_key(session=session, event=event)
        for index in range(fans):
            fan, token, _ = create_fan(session=session, data=FanCreate(), secret=runtime.secret())
            tokens.append(token)
            issue_tickets(session=session, runtime=runtime, organiser=organiser, event=event,
                          data=IssueRequest(fan_id=fan.id, tier_id=0, quantity=2, payment_reference=f"c{index}"),
                          idempotency_key=f"crowd-{index}")
            for ticket in session.exec(select(Ticket).where(Ticket.owner_fan_id == fan.id)):
                device = codes.new_device_key()
                gate.bind_device(session=session, runtime=runtime, ticket_id=ticket.id,
                                 public_key=codes.public_key_text(device), fan=fan)
                keys[ticket.id] = device
    runtime.dispose()
    return tokens, gate_token, keys


def _lines(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{token} {body}\n" for token, body in pairs))
    return path


def code_lines(path: Path, gate_token: str, keys: dict[uuid.UUID, object]) -> Path:
    """One verify/scan body per ticket, signed for the next window (accepted for the next 30 to 45 seconds)."""
    window = codes.window_of(time.time()) + 1
    return _lines(path, [(gate_token, json.dumps({"code": codes.sign_code(key, ticket_id, window)}))  # type: ignore[arg-type]
                         for ticket_id, key in keys.items()])


def wrk(url: str, lines: Path, *, method: str = "GET", connections: int, seconds: float,
        threads: int = 2) -> subprocess.Popen:
    """Start wrk (closed loop, keep-alive) on `url`; `finish` reads its figures."""
    return subprocess.Popen(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
         "-s", str(SCRIPT), url, "--", str(lines), method], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(run: subprocess.Popen) -> dict[str, float]:
    output, _ = run.communicate()
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed: {output}")
    figures = json.loads(output.strip().splitlines()[-1])
    seconds = figures["duration_us"] / 1e6
    errors = figures["other_status"] + sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors",
                                                                 "timeouts"))
    return {"rps": round(figures["ok"] / seconds, 1), "p50_ms": round(figures["p50_us"] / 1000, 2),
            "p99_ms": round(figures["p99_us"] / 1000, 2), "ok": figures["ok"], "shed_503": figures["shed_503"],
            "errors": errors, "timeouts": figures["timeouts"]}


def recovery_seconds(url: str, token: str, limit: float = 60.0) -> float:
    """From now until a fan read answers 200 (each try bounded by 1 s)."""
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=1.0) as client:
        while time.perf_counter() - started < limit:
            try:
                if client.get("/fans/me/tickets").status_code == 200:
                    return round(time.perf_counter() - started, 3)
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    return float("inf")


@contextmanager
def server(settings: Settings, workers: int):
    """The production server (`python -m gateway.serve_prod`-style: N workers behind one socket) on a free port."""
    port = _free_port()
    process = gateway_process.spawn(settings, port=port, workers=workers, run_migrations=False)
    url = f"http://127.0.0.1:{port}"
    try:
        gateway_process.wait_serving(url, process)
        yield url
    finally:
        gateway_process.stop(process, timeout=30)


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--fans", type=int, default=100)
    args = parser.parse_args()
    raise_file_limit()
    directory = Path(tempfile.mkdtemp(prefix="crowd-"))
    try:
        with tk.local_chain() as chain, _database(args.db, directory) as database_url:
            organiser, operator = chain.account(0), chain.account(9)
            collection = _collection(chain, organiser, operator, 2 * args.fans)
            settings = Settings(database_url=database_url, rpc_url=chain.url, chain_id=chain.chain_id,  # type: ignore[attr-defined]
                                operator_key=operator.key.to_0x_hex(), key_encryption_secret=secrets.token_hex(32))
            tokens, gate_token, keys = seed(settings, collection, args.fans)
            reads = _lines(directory / "reads.txt", [(t, "-") for t in tokens])
            with server(settings, args.workers) as url:
                for connections in (50, args.connections):
                    run = wrk(url + "/fans/me/tickets", reads, connections=connections, seconds=args.seconds)
                    print(connections, finish(run), flush=True)
                    print("recovery", recovery_seconds(url, tokens[0]), flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
