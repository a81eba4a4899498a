"""A festival crowd on the gateway: thousands of connections at once, from processes of their own.

    python -m bench.crowd [--db sqlite,postgresql] [--workers 2] [--seconds 30] [--connections 2000]

For each database: a local anvil with one collection, a gateway database seeded through the service functions
(fans with 2 tickets each and a bound device key per ticket, a gate key), then the production server
(`ticketkit-gateway`: N worker processes behind one socket) and the load from other processes:

- **client ceiling**: wrk against `GET /healthz` (no database, no thread) in the same run — the most the load
  client and the server's HTTP layer can do together here; a rate far below it is the gateway's own limit;
- **saturation**: `--connections` keep-alive connections (closed loop) for `--seconds` on `GET
  /fans/me/tickets`, then on `POST /gate/verify`: completed rate, p50/p99, answers by kind (2xx, deliberate
  503s, anything else), then the time until a fan read answers again once the load has stopped (`recovery_s`);
- **best rate at 100 connections** on the same fan read (the no-collapse ratio's denominator);
- **the doors during a fan flood**: connections - 100 reading tickets and 100 scanners at the gate at once,
  each scanner scanning one person a second (`gate_p99_ms_during_flood`; a turnstile lane admits one every 3
  s), then again with the scanners back to back, no pause (`gate_closed_*`: 100 requests always outstanding,
  so by Little's law its latency is 100 / the rate, ≥ 50 ms below 2,000 scans/s, more than 2 cores do);
- **open loop**: a constant arrival rate (`--open-rate`, default 1,000/s) spread over `--connections`
  connections, 90 % fan reads and 10 % gate scans, latency measured from each request's scheduled time
  (bench/openloop.py).

Closed-loop latency at 2,000 connections is mostly queueing (Little's law: connections / rate), so saturation
is judged by rate, errors and recovery, and latency by the open loop. Writes bench/results/crowd.json.
Never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session

import ticketkit as tk
from bench import load
from bench.gate_load import bench_gateway, bind_devices, measure_and_write
from gateway import process as gateway_process
from gateway.core import codes
from gateway.core.config import Settings
from gateway.main import create_app
from gateway.models import EventCreate, FanCreate, IssueRequest, OrganiserCreate
from gateway.services.events import register_event
from gateway.services.fans import create_fan
from gateway.services.organisers import create_gate_key, create_organiser
from gateway.services.tickets import issue_tickets
from ticketkit.chain import free_port

HERE = Path(__file__).resolve().parent


def seed(
    settings: Settings, collection: tk.Collection, fans: int
) -> tuple[list[str], str, dict[uuid.UUID, ec.EllipticCurvePrivateKey]]:
    """Fans with 2 tickets each and a device key bound to every ticket; returns (fan tokens, gate key, device
    keys)."""
    app = create_app(settings)
    runtime = app.state.runtime
    tokens: list[str] = []
    with Session(runtime.engine) as session:
        organiser, _ = create_organiser(session=session, data=OrganiserCreate(name="Crowd organiser"))
        event = register_event(
            session=session,
            chain=runtime.chain(),
            organiser=organiser,
            data=EventCreate(collection_address=collection.address, name="Crowd bench"),
        )
        _, gate_token = create_gate_key(session=session, event=event)
        accounts = []
        for index in range(fans):
            fan, token, _ = create_fan(session=session, data=FanCreate(), secret=runtime.secret())
            tokens.append(token)
            accounts.append(fan)
            issue_tickets(
                session=session,
                runtime=runtime,
                organiser=organiser,
                event=event,
                data=IssueRequest(fan_id=fan.id, tier_id=0, quantity=2, payment_reference=f"c{index}"),
                idempotency_key=f"crowd-{index}",
            )
        keys = bind_devices(session, runtime, accounts)
    runtime.dispose()
    return tokens, gate_token, keys


def code_lines(path: Path, gate_token: str, keys: dict[uuid.UUID, ec.EllipticCurvePrivateKey]) -> Path:
    """One verify/scan body per ticket, signed for the next window (accepted for the next 30 to 45
    seconds)."""
    window = codes.window_of(time.time()) + 1
    return load.lines(
        path,
        [
            (gate_token, json.dumps({"code": codes.sign_code(key, ticket_id, window)}))
            for ticket_id, key in keys.items()
        ],
    )


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
def seeded(
    kind: str, fans: int, overrides: dict[str, str] | None = None
) -> Iterator[tuple[Settings, list[str], str, dict[uuid.UUID, ec.EllipticCurvePrivateKey], Path]]:
    """gate_load.bench_gateway's anvil, collection and database, seeded by `seed`; yields (the gateway's
    settings, fan tokens, gate key, device keys, a scratch directory) while they exist."""
    with bench_gateway(kind, 2 * fans, overrides) as (settings, collection, directory):
        yield (settings, *seed(settings, collection, fans), directory)


@contextmanager
def server(settings: Settings, workers: int, *, doors: bool, nice: int | None = None):
    """The production server (ticketkit-gateway: N workers behind one socket) on a free port, with `doors` the
    doors' server beside them on a port of its own (`--doors-port`); yields (its URL, the doors' URL)."""
    port, doors_port = free_port(), free_port() if doors else 0
    process = gateway_process.spawn(
        settings, port=port, workers=workers, run_migrations=False, nice=nice, doors_port=doors_port
    )
    url = f"http://127.0.0.1:{port}"
    gate_url = f"http://127.0.0.1:{doors_port}" if doors else url
    try:
        gateway_process.wait_serving(url, process)
        gateway_process.wait_serving(gate_url, process)
        yield url, gate_url
    finally:
        gateway_process.stop(process, timeout=30)


def open_loop(
    url: str, reads: Path, scans: Path, *, rate: float, seconds: float, connections: int, gate_url: str
) -> dict:
    """bench/openloop.py in a process of its own: 90 % fan reads, 10 % gate scans at a constant rate."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.openloop",
            url,
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--connections",
            str(connections),
            "--mix",
            f"{reads}:GET:/fans/me/tickets:0.9",
            "--mix",
            f"{scans}:POST:/gate/scan:0.1",
            "--gate-url",
            gate_url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        timeout=seconds + 120,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"the open-loop client failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure(
    kind: str,
    *,
    workers: int,
    seconds: float,
    connections: int,
    fans: int,
    open_rate: float,
    overrides: dict[str, str] | None = None,
    doors: bool = True,
    nice: int | None = None,
) -> dict:
    sfx = "" if kind == "sqlite" else "_pg"
    out: dict[str, float] = {}
    with seeded(kind, fans, overrides) as (settings, tokens, gate_token, keys, directory):
        reads = load.lines(directory / "reads.txt", [(t, "-") for t in tokens])
        probe = load.lines(directory / "probe.txt", [("-", "-")])
        errors = shed = 0
        by_kind: dict[str, int] = {}  # "<phase>:<kind>" -> count, for every error (crowd.errors_by_kind)

        def tally(phase: str, found: dict) -> None:
            raw = found["raw"]
            for counter in ("other_status", "connect_errors", "read_errors", "write_errors", "timeouts"):
                if raw.get(counter):
                    by_kind[f"{phase}:{counter}"] = by_kind.get(f"{phase}:{counter}", 0) + raw[counter]

        with server(settings, workers, doors=doors, nice=nice) as (url, gate_url):

            def closed(
                path: str,
                lines: Path,
                method: str = "GET",
                conns: int = connections,
                secs: float = seconds,
            ) -> dict:
                nonlocal errors, shed
                found = load.figures(
                    load.start(url + path, lines, method=method, connections=conns, seconds=secs)
                )
                tally(f"{path} c{conns}", found)
                errors += found["errors"]
                shed += found["shed_503"]
                return found

            closed("/fans/me/tickets", reads, conns=50, secs=3)  # warm-up
            out[f"crowd.client_ceiling_rps{sfx}"] = closed("/healthz", probe, conns=100, secs=5)["rps"]
            best = closed("/fans/me/tickets", reads, conns=100, secs=10)
            out[f"crowd.best_reads_rps_c100{sfx}"] = best["rps"]
            saturated = closed("/fans/me/tickets", reads)
            out[f"crowd.recovery_s{sfx}"] = recovery_seconds(url, tokens[0])
            out[f"crowd.reads_rps{sfx}"] = saturated["rps"]
            out[f"crowd.reads_p50_ms{sfx}"] = saturated["p50_ms"]
            out[f"crowd.reads_p99_ms{sfx}"] = saturated["p99_ms"]
            verify = closed(
                "/gate/verify", code_lines(directory / "codes.txt", gate_token, keys), "POST"
            )  # one server
            out[f"crowd.verify_rps{sfx}"] = verify["rps"]
            out[f"crowd.verify_p99_ms{sfx}"] = verify["p99_ms"]
            out[f"crowd.verify_recovery_s{sfx}"] = recovery_seconds(url, tokens[0])
            # The doors during a fan flood: both at once, from wrk processes of their own. 100 scanners,
            # each scanning a person a second (a turnstile lane does one every 3 s), starting at random
            # moments within that second; then all 100 in lockstep (a burst of 100 scans every second);
            # then back to back, no pause.
            phases = (("", 1000, False), ("_burst", 1000, True), ("_closed", 0, False))
            for tag, pause, lockstep in phases:
                scans = code_lines(directory / "scans.txt", gate_token, keys)
                flood = load.start(
                    url + "/fans/me/tickets",
                    reads,
                    connections=connections - 100,
                    seconds=seconds,
                )
                time.sleep(2)  # the flood first
                scanned = load.figures(
                    load.start(
                        gate_url + "/gate/scan",
                        scans,
                        method="POST",
                        connections=100,
                        seconds=seconds - 4,
                        pause_ms=pause,
                        lockstep=lockstep,
                    )
                )
                flooded = load.figures(flood)
                tally(f"flood{tag} reads", flooded)
                tally(f"flood{tag} scans", scanned)
                errors += flooded["errors"] + scanned["errors"]
                shed += flooded["shed_503"] + scanned["shed_503"]
                out[f"crowd.gate{tag}_p99_ms_during_flood{sfx}"] = scanned["p99_ms"]
                out[f"crowd.gate{tag}_rps_during_flood{sfx}"] = scanned["rps"]
                out[f"crowd.reads_rps_during_flood{tag}{sfx}"] = flooded["rps"]
            # Open loop: a constant arrival rate, latency from each request's due time.
            opened = open_loop(
                url,
                reads,
                code_lines(directory / "open.txt", gate_token, keys),
                rate=open_rate,
                seconds=min(seconds, 20),
                connections=connections,
                gate_url=gate_url,
            )
            paths = opened["paths"]
            out[f"crowd.open_read_p99_ms{sfx}"] = paths["/fans/me/tickets"]["p99_ms"]
            out[f"crowd.open_scan_p99_ms{sfx}"] = paths["/gate/scan"]["p99_ms"]
            out[f"crowd.open_achieved_rps{sfx}"] = opened["achieved_rps"]
            out[f"crowd.open_send_lag_p99_ms{sfx}"] = opened["send_lag_p99_ms"]
            errors += sum(opened["errors"].values()) + sum(
                n
                for p in paths.values()
                for status, n in p["statuses"].items()
                if not (status.startswith("2") or status == "503")
            )
            for what, n in opened["errors"].items():
                by_kind[f"open loop:{what}"] = n
            for path, figures in paths.items():
                for status, n in figures["statuses"].items():
                    if not (status.startswith("2") or status == "503"):
                        by_kind[f"open loop {path}:status {status}"] = n
            shed += sum(p["statuses"].get("503", 0) for p in paths.values())
        out[f"crowd.no_collapse_ratio{sfx}"] = round(
            out[f"crowd.reads_rps{sfx}"] / max(out[f"crowd.best_reads_rps_c100{sfx}"], 1e-9), 3
        )
        out[f"crowd.errors{sfx}"] = errors
        out[f"crowd.errors_by_kind{sfx}"] = by_kind  # type: ignore[assignment]  # the one entry that is not a number
        out[f"crowd.shed_503{sfx}"] = shed
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--fans", type=int, default=200)
    parser.add_argument("--open-rate", type=float, default=1000)
    parser.add_argument("--out", default="bench/results/crowd.json")
    parser.add_argument(
        "--doors",
        choices=["server", "shared"],
        default="server",
        help="server: the doors' server of its own beside the workers (ticketkit-gateway --doors-port, as "
        "docs/gateway.md recommends); shared: the scanners use the workers' port like everyone else",
    )
    parser.add_argument("--nice", type=int, help="ticketkit-gateway --nice (unset: its default)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a gateway setting for this run (e.g. lane_api_limit=2), to compare configurations",
    )
    parser.add_argument(
        "--keep-autogroup",
        action="store_true",
        help="leave kernel.sched_autogroup_enabled as it is (see bench/gate_load.py)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `apt-get install -y wrk` (make bench installs it)")
    load.raise_open_files_limit()
    result: dict[str, float | str] = {
        "crowd.workers": args.workers,
        "crowd.connections": args.connections,
        "crowd.seconds": args.seconds,
        "crowd.open_rate": args.open_rate,
        "crowd.doors": args.doors,
        "crowd.nice": "default" if args.nice is None else args.nice,
    }
    overrides = dict(item.split("=", 1) for item in args.set)
    measure_and_write(
        "crowd",
        result,
        lambda kind: measure(
            kind,
            workers=args.workers,
            seconds=args.seconds,
            connections=args.connections,
            fans=args.fans,
            open_rate=args.open_rate,
            overrides=overrides,
            doors=args.doors == "server",
            nice=args.nice,
        ),
        args.db,
        keep_autogroup=args.keep_autogroup,
        out=args.out,
    )


if __name__ == "__main__":
    main()
