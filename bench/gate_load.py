"""The gate under load: verify and check-in over HTTP against a running gateway, on SQLite and PostgreSQL.

    python -m bench.gate_load [--db sqlite,postgresql] [--tickets 10000] [--workers 2] [--seconds 5]
                              [--connections 4,16]

For each database: a local anvil with one collection, a gateway database seeded through the service
functions (fans, issued tickets, a device key bound to every ticket), then the gateway as its own
processes (N of them, one worker each, own ports) and the load from other processes, wrk (C, keep-alive
connections, closed loop) at each connection level. Verify: every ticket's current code, round-robin.
Check-in: each ticket scanned once, fresh codes; afterwards the database must hold exactly one admission per
ticket scanned. Writes bench/results/gate.json (merged into latest.json by `python -m bench`). Never a timed
test.

Reading p99: wrk (4.x) corrects its latencies for coordinated omission before reporting them: a response
slower than twice its connection's mean interval adds the samples a steady client would have waited behind
it. With 2 connections per wrk over 5 s, one stall of S ms on one connection puts that wrk's p99 near
S - 100 ms (S - 50 ms if both of its connections stall together): the p99 is set by the longest single pause
of a gateway process, its database or the machine (another workload on the same cores or PostgreSQL server
shows up here), not by the typical request.

The kernel's session autogroups: with `kernel.sched_autogroup_enabled=1` (Debian's default), PostgreSQL (its
own session, started by pg_ctlcluster) and this benchmark's gateways and wrk (another session) are scheduled
as two groups sharing the 2 cores. With the cores saturated, one PostgreSQL backend was left runnable and not
run for up to 881 ms while the other tasks ran thousands of times (`perf sched latency`, 2026-11-24), and the
PostgreSQL verify p99 came out at 0.3 to 2.9 s in most 5-second runs, with every statement under 100 ms on the
server (log_min_duration_statement) and no TCP timeouts; a Unix socket did not change it. With autogroups off
it was 3 to 4 ms in every run. A deployment with the database on the gateway's machine has the same choice
(docs/gate.md). So the stage turns autogroups off for its run when it may (root) and restores the setting
afterwards, and records what it ran with as `gate.sched_autogroup` (1: left on, figures include those stalls).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import httpx
import psycopg
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func
from sqlmodel import Session, select

import ticketkit as tk
from gateway import process as gateway_process
from gateway.core import codes
from gateway.core.config import Settings
from gateway.main import create_app
from gateway.models import Admission, EventCreate, Fan, FanCreate, IssueRequest, OrganiserCreate, Ticket
from gateway.runtime import Runtime
from gateway.services import gate, sending
from gateway.services.events import register_event
from gateway.services.fans import create_fan
from gateway.services.organisers import create_gate_key, create_organiser
from gateway.services.tickets import issue_tickets
from ticketkit.chain import free_port

HERE = Path(__file__).resolve().parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PER_FAN = 50  # IssueRequest's maximum quantity


@contextmanager
def _database(kind: str, directory: Path):
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'gate-bench.db'}"
        return
    name = f"ticketkit_gate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_gateway(
    kind: str, supply: int, overrides: dict[str, str] | None = None
) -> Iterator[tuple[Settings, tk.Collection, Path]]:
    """A local anvil with one collection of `supply` tickets, an empty gateway database of `kind` (a file in
    the scratch directory for SQLite, a database of its own on PostgreSQL) and a scratch directory for the
    stage's files; yields (the gateway's settings, the collection, the directory) while they exist, and
    removes them all afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as scratch,
        tk.local_chain() as chain,
        _database(kind, Path(scratch)) as database_url,
    ):
        organiser, operator = chain.account(0), chain.account(9)
        collection = _collection(chain, organiser, operator, supply)
        yield (
            Settings(
                database_url=database_url,
                rpc_url=chain.url,
                chain_id=chain.chain_id,
                operator_key=operator.key.to_0x_hex(),
                key_encryption_secret=secrets.token_hex(32),
                confirmations=0,
                **(overrides or {}),
            ),
            collection,
            Path(scratch),
        )


def _collection(chain: tk.Chain, organiser, operator, supply: int) -> tk.Collection:
    platform = tk.deploy_platform(chain, organiser)
    now = chain.timestamp()
    collection = platform.create_collection(
        tk.EventConfig(
            "Gate bench", "GATE", start_time=now + 30 * 86400, transfer_lock_time=now + 29 * 86400
        ),
        [
            tk.TierConfig(
                "General",
                face_value=10**16,
                supply=supply,
                sale_start=now,
                sale_end=now + 20 * 86400,
                max_per_wallet=PER_FAN,
            )
        ],
        salt=f"gate-bench-{secrets.token_hex(4)}",
        sender=organiser,
    )
    for role in ("MINTER_ROLE", "GATEWAY_ROLE", "GATE_ROLE"):
        collection.grant_role(role, operator.address, sender=organiser)
    return collection


def _seed(
    settings: Settings, collection: tk.Collection, tickets: int
) -> tuple[str, dict[uuid.UUID, ec.EllipticCurvePrivateKey]]:
    """Organiser, event, gate key, fans with issued tickets and a bound device key each (service
    functions)."""
    app = create_app(settings)
    runtime = app.state.runtime
    with Session(runtime.engine) as session:
        organiser, _ = create_organiser(session=session, data=OrganiserCreate(name="Bench organiser"))
        event = register_event(
            session=session,
            chain=runtime.chain(),
            organiser=organiser,
            data=EventCreate(collection_address=collection.address, name="Gate bench"),
        )
        _, gate_token = create_gate_key(session=session, event=event)
        accounts = []
        for batch in range(-(-tickets // PER_FAN)):
            fan, _, _ = create_fan(session=session, data=FanCreate(), secret=runtime.secret())
            accounts.append(fan)
            quantity = min(PER_FAN, tickets - batch * PER_FAN)
            issue_tickets(
                session=session,
                runtime=runtime,
                organiser=organiser,
                event=event,
                data=IssueRequest(fan_id=fan.id, tier_id=0, quantity=quantity, payment_reference=f"b{batch}"),
                idempotency_key=f"bench-{batch}",
            )
        keys = bind_devices(session, runtime, accounts)
    runtime.dispose()
    return gate_token, keys


def bind_devices(
    session: Session, runtime: Runtime, accounts: list[Fan]
) -> dict[uuid.UUID, ec.EllipticCurvePrivateKey]:
    """Once the pipeline has sent the pending issuances, a fresh device key bound to every ticket of
    `accounts`; {ticket id: private key}. Refuses an empty result: a benchmark must not measure nothing."""
    sending.settle(runtime, timeout=600)
    keys: dict[uuid.UUID, ec.EllipticCurvePrivateKey] = {}
    for fan in accounts:
        for ticket in session.exec(select(Ticket).where(Ticket.owner_fan_id == fan.id)):
            device = codes.new_device_key()
            gate.bind_device(
                session=session,
                runtime=runtime,
                ticket_id=ticket.id,
                public_key=codes.public_key_text(device),
                fan=fan,
            )
            keys[ticket.id] = device
    if not keys:
        raise RuntimeError("the seed issued no tickets: the benchmark would measure nothing")
    return keys


def _bodies(keys: dict[uuid.UUID, ec.EllipticCurvePrivateKey], path: Path) -> None:
    """One JSON body per ticket, signed for the next window: accepted for the next 30 to 45 seconds."""
    window = codes.window_of(time.time()) + 1
    with path.open("w") as out:
        for ticket_id, key in keys.items():
            out.write(json.dumps({"code": codes.sign_code(key, ticket_id, window)}) + "\n")


@contextmanager
def _gateways(settings: Settings, processes: int):
    """`processes` gateway processes of one worker each, on ports of their own: a load balancer in front would
    spread devices evenly, where uvicorn's shared socket can hand 3 of 4 connections to one worker."""
    ports = [free_port() for _ in range(processes)]
    running = [gateway_process.spawn(settings, port=port, run_migrations=False) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(urls, running):
            gateway_process.wait_serving(url, process)
        yield urls
    finally:
        for process in running:
            gateway_process.stop(process, timeout=30)


def _wrk(
    urls: list[str], path: str, gate_token: str, bodies: Path, seconds: int, connections: int
) -> dict[str, float]:
    """One wrk per gateway process at once, `connections` spread over them, each on its own stride of the
    file. Rates add up; p50 is the request-weighted mean of theirs, p99 the worst of theirs (an upper
    bound)."""
    share = max(1, connections // len(urls))
    runs = [
        subprocess.Popen(
            [
                "wrk",
                "-t1",
                f"-c{share}",
                f"-d{seconds}s",
                "--timeout",
                "5s",
                "-s",
                str(HERE / "wrk" / "gate.lua"),
                url + path,
                "--",
                str(bodies),
                str(len(urls)),
                str(index),
            ],
            env={**os.environ, "GATE_KEY": gate_token},
            stdout=subprocess.PIPE,
            text=True,
        )
        for index, url in enumerate(urls)
    ]
    figures = []
    for run in runs:
        output, _ = run.communicate()
        if run.returncode != 0:
            raise RuntimeError(f"wrk failed: {output}")
        figures.append(json.loads(output.strip().splitlines()[-1]))
    requests = sum(f["requests"] for f in figures)
    errors = sum(
        f[k]
        for f in figures
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    duration = max(f["duration_us"] for f in figures) / 1e6
    p50 = sum(f["p50_us"] * f["requests"] for f in figures) / max(requests, 1)
    return {
        "rps": round(requests / duration, 1),
        "p50_ms": round(p50 / 1000, 2),
        "p99_ms": round(max(f["p99_us"] for f in figures) / 1000, 2),
        "requests": requests,
        "errors": errors,
    }


def _check_answers(url: str, gate_token: str, bodies: Path, path: str, sample: int = 20) -> None:
    """The load is real work: a sample of the same codes must admit (verify) before the run."""
    lines = bodies.read_text().splitlines()[:sample]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {gate_token}"}) as client:
        for line in lines:
            answer = client.post(path, content=line, headers={"Content-Type": "application/json"}).json()
            if not answer.get("admit"):
                raise RuntimeError(f"bench codes do not admit: {answer}")


def measure(kind: str, tickets: int, workers: int, seconds: int, levels: list[int]) -> dict[str, float]:
    """Each connection level gets its own verify run and a check-in run over its own share of the tickets."""
    suffix = "" if kind == "sqlite" else "_pg"
    result: dict[str, float] = {}
    with bench_gateway(kind, tickets) as (settings, collection, directory):
        started = time.perf_counter()
        gate_token, keys = _seed(settings, collection, tickets)
        result[f"gate.seed_s{suffix}"] = round(time.perf_counter() - started, 1)
        bodies = directory / "bodies.jsonl"
        items = list(keys.items())
        share = len(items) // len(levels)
        scanned = errors = repeats = 0
        with _gateways(settings, workers) as urls:
            _bodies(keys, bodies)
            _check_answers(urls[0], gate_token, bodies, "/gate/verify")
            _wrk(urls, "/gate/verify", gate_token, bodies, 2, levels[0])  # warm-up
            for index, connections in enumerate(levels):
                tag = suffix if index == 0 else f"_c{connections}{suffix}"
                _bodies(keys, bodies)
                verify = _wrk(urls, "/gate/verify", gate_token, bodies, seconds, connections)
                _bodies(dict(items[index * share : (index + 1) * share]), bodies)
                checkin = _wrk(urls, "/gate/scan", gate_token, bodies, seconds, connections)
                for name, figures in (("verify", verify), ("checkin", checkin)):
                    for figure in ("rps", "p50_ms", "p99_ms"):
                        result[f"gate.{name}_{figure}{tag}"] = figures[figure]
                # wrk counts completed responses; up to `connections` more were in flight at the end
                scanned += min(checkin["requests"], share)
                repeats += max(0, checkin["requests"] - share)
                errors += verify["errors"] + checkin["errors"]
        engine = create_app(settings.model_copy(update={"run_migrations": False})).state.runtime.engine
        with Session(engine) as session:
            admitted = session.exec(select(func.count()).select_from(Admission)).one()
        engine.dispose()
    if not scanned <= admitted <= scanned + sum(levels):
        raise RuntimeError(f"{admitted} admissions for {scanned} distinct tickets scanned")
    return result | {f"gate.errors{suffix}": errors, f"gate.checkin_repeats{suffix}": repeats}


AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def _current_autogroup() -> int | None:
    try:
        return int(AUTOGROUP.read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def _autogroups_off():
    """Turn the kernel's session autogroups off while the load runs, if they are on and we may; yields the
    setting the run had (None on a kernel without them)."""
    before = _current_autogroup()
    if before is None or before == 0:
        yield before
        return
    try:
        AUTOGROUP.write_text("0")
    except OSError:
        print(
            "kernel.sched_autogroup_enabled=1 and not root: PostgreSQL p99 may include scheduler stalls "
            "(see bench/gate_load.py)",
            file=sys.stderr,
        )
        yield 1
        return
    try:
        yield 0
    finally:
        AUTOGROUP.write_text(str(before))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--tickets", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--connections",
        default="4,16",
        help="concurrent connections: the first gives the main figures (a busy door: 4 devices "
        "scanning back to back), the others are reported as _cN (saturation)",
    )
    parser.add_argument("--out", default="bench/results/gate.json")
    parser.add_argument(
        "--keep-autogroup",
        action="store_true",
        help="leave kernel.sched_autogroup_enabled as it is (see the module's docstring)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `apt-get install -y wrk` (make bench installs it)")
    levels = [int(c) for c in args.connections.split(",")]
    result: dict[str, float] = {
        "gate.workers": args.workers,
        "gate.connections": levels[0],
        "gate.tickets": args.tickets,
    }
    measure_and_write(
        "gate",
        result,
        lambda kind: measure(kind, args.tickets, args.workers, args.seconds, levels),
        args.db,
        keep_autogroup=args.keep_autogroup,
        out=args.out,
    )


def measure_and_write(
    prefix: str,
    result: dict[str, float],
    measure_one: Callable[[str], dict[str, float]],
    databases: str,
    *,
    keep_autogroup: bool,
    out: str,
) -> None:
    """`measure_one` for each database of the comma list in turn, with the kernel's autogroups off for the run
    (unless `keep_autogroup`), then `out` (JSON, with `<prefix>.sched_autogroup`) and a listing."""
    with nullcontext(_current_autogroup()) if keep_autogroup else _autogroups_off() as autogroup:
        for kind in databases.split(","):
            result |= measure_one(kind)
    if autogroup is not None:
        result[f"{prefix}.sched_autogroup"] = autogroup
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:>36}: {value}")


if __name__ == "__main__":
    main()
