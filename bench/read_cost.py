"""Instructions one fan read costs, counted by valgrind's callgrind: the same figure on every run, whatever
else the machine is doing (rates on a shared 2-core VM swing by a third between runs minutes apart, so they
cannot show a 10-30 % change in what a request costs; this can).

    python -m bench.read_cost [--db sqlite,postgresql] [--reads 200]

For each database: a gateway database seeded like bench.crowd's (fans with 2 tickets each), then the app in
this process's code under callgrind, twice: `BASE` fan reads and `BASE + --reads` (GET /fans/me/tickets
through the whole ASGI stack: middleware, admission, routing, dependencies, the thread trip, the query, the
JSON; one read at a time). (instructions of the second - of the first) / --reads is the cost of one read, the
start-up cancelling out. Twice over: every token already in the process's cache (`read_cost.cached_minstr`),
and every read checking its token (`read_cost.uncached_minstr`, a phone polling less often than the cache
keeps a token). In millions of instructions. Callgrind runs threads one at a time, so what threads cost each
other (the interpreter lock passed around) is not in the count. Writes bench/results/read_cost.json. Needs
valgrind (`apt-get install -y valgrind`). Never a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE = 50  # reads in the first run: start-up and warm-up cancel out between the two runs
DRIVER_ENV = "READ_COST_TOKENS"  # the driver's file of fan tokens


def drive(reads: int) -> None:
    """In the process callgrind counts: the app from GATEWAY_* settings, every token read once (so the
    cache has each, or, with a cache of 0 s, so every lazy import is done), then `reads` reads."""
    import uvloop

    from gateway.main import create_app

    tokens = Path(os.environ[DRIVER_ENV]).read_text().split()
    app = create_app()
    statuses: dict[int, int] = {}

    async def read(token: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/fans/me/tickets",
            "raw_path": b"/fans/me/tickets",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        requests = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict:
            if requests:
                return requests.pop()
            await asyncio.Event().wait()  # never: the read is answered first
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            for token in tokens:
                await read(token)
            statuses.clear()
            for index in range(reads):
                await read(tokens[index % len(tokens)])

    uvloop.run(run())
    if set(statuses) != {200}:
        sys.exit(f"reads answered {statuses}, not all 200")


def instructions(reads: int, env: dict[str, str]) -> int:
    """Instructions callgrind counts for a driver process making `reads` reads (after the warm-up)."""
    with tempfile.TemporaryDirectory(prefix="read-cost-") as directory:
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={directory}/callgrind.out",
                sys.executable,
                "-m",
                "bench.read_cost",
                "--drive",
                str(reads),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise RuntimeError(f"the driver under callgrind failed: {run.stderr[-2000:]}")
    return int(found.group(1))


def measure(kind: str, reads: int, fans: int) -> dict[str, float]:
    from bench.crowd import seeded
    from gateway import process

    sfx = "" if kind == "sqlite" else "_pg"
    out: dict[str, float] = {}
    with seeded(kind, fans) as (settings, tokens, _, _, directory):
        (directory / "tokens.txt").write_text("\n".join(tokens))
        for case, cache_seconds in (("cached", 1e9), ("uncached", 0)):
            env = {
                **os.environ,
                **process.settings_env(
                    settings,
                    run_migrations=False,
                    sender_enabled=False,
                    checkin_queue_enabled=False,
                    indexer_enabled=False,
                    fan_auth_cache_seconds=cache_seconds,
                    lane_wait_seconds=600,  # everything is ~50x slower under callgrind
                    db_pool_timeout_seconds=600,
                ),
                DRIVER_ENV: str(directory / "tokens.txt"),
                "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            }
            with ThreadPoolExecutor(2) as pool:  # two processes, one core each
                low, high = pool.map(lambda n, env=env: instructions(n, env), (BASE, BASE + reads))
            out[f"read_cost.{case}_minstr{sfx}"] = round((high - low) / reads / 1e6, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--fans", type=int, default=50)
    parser.add_argument("--out", default="bench/results/read_cost.json")
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)  # the process callgrind counts
    args = parser.parse_args()
    if args.drive is not None:
        drive(args.drive)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is missing: `apt-get install -y valgrind`")
    from bench.gate_load import measure_and_write

    measure_and_write(
        "read_cost",
        {"read_cost.reads": args.reads},
        lambda kind: measure(kind, args.reads, args.fans),
        args.db,
        keep_autogroup=True,  # instructions do not depend on the scheduler
        out=args.out,
    )


if __name__ == "__main__":
    main()
