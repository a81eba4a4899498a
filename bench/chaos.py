"""The chaos stage: issue 13's random-fault scenario at full size, on SQLite and PostgreSQL (`make chaos`).

    python -m bench.chaos [--tickets 2000] [--gifts 200] [--resales 100] [--admissions 2000] [--block-time 1]
                          [--no-postgres] [--out bench/results/chaos.json]

A gateway issues tickets to account fans (issuances of 10), fans gift and resell, the gate admits and the
check-in queue drains to the chain — on anvil with a block every second, behind a fault-injecting proxy (10 %
of requests answered 429, 5 % 502) while the base fee spikes ×10/×50, every pending transaction is dropped and
the last 1–3 blocks are reorganised, one fault every ~2 s (tests/chaos/scenario.py). Then the faults stop and
it reports: `convergence_blocks` (blocks from the end of the faults until every record is done),
`replacements` (signed versions beyond the first), `fee_over_base_ratio` (mean price paid / the block's base
fee), `records` (issuances, gifts, settlements and check-in batches done) and `mismatches` (database vs chain:
owners, used flags, badges, check-ins once, nonce gaps, fees above the ceiling — must be 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chaos.scenario import run_scenario
from tests.utils.db import fresh_pg_database


def _run(url: str, args: argparse.Namespace) -> dict:
    started = time.monotonic()
    report = run_scenario(
        url,
        tickets=args.tickets,
        gifts=args.gifts,
        resales=args.resales,
        admissions=args.admissions,
        per_issue=10,
        block_time=args.block_time,
        fault_every=2.0,
        bound_seconds=600,
    )
    return {
        **{k.removeprefix("chaos."): v for k, v in report.keys().items()},
        "convergence_seconds": round(report.convergence_seconds, 1),
        "max_fee_paid_gwei": round(report.max_fee_paid_gwei, 3),
        "faults": dict(report.faults),
        "seconds": round(time.monotonic() - started, 1),
        "problems": report.problems[:20],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--gifts", type=int, default=200)
    parser.add_argument("--resales", type=int, default=100)
    parser.add_argument("--admissions", type=int, default=2000)
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chaos.json"))
    args = parser.parse_args(argv)
    result: dict = {
        "tickets": args.tickets,
        "gifts": args.gifts,
        "resales": args.resales,
        "admissions": args.admissions,
        "block_time_s": args.block_time,
    }
    if not args.no_sqlite:
        with __import__("tempfile").TemporaryDirectory() as tmp:
            result["sqlite"] = _run(f"sqlite:///{Path(tmp) / 'chaos.db'}", args)
        print(json.dumps(result["sqlite"]), flush=True)
    if not args.no_postgres:
        with fresh_pg_database("ticketkit_chaos") as url:
            result["postgresql"] = _run(url, args)
        print(json.dumps(result["postgresql"]), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
