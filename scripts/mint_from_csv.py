"""Airdrop tickets so each recipient of a CSV (address, tier, quantity) holds what it says; safe to rerun.

    python scripts/mint_from_csv.py 0xCollection recipients.csv --chunk-size 200 [--dry-run]

Mints only the difference with what is airdropped already, after printing the plan (ticketkit.mint_plan).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however this file is run
import _common

from ticketkit import commands


def main(argv: Sequence[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    _common.add_collection(p)
    p.add_argument(
        "csv", nargs="?", default=os.environ.get("TICKETKIT_CSV"), help="recipients (env TICKETKIT_CSV)"
    )
    p.add_argument("--chunk-size", type=int, default=200, help="tickets per transaction (default 200)")
    p.add_argument("--from-block", type=int, default=0, help="where to look for earlier airdrops")
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=os.environ.get("TICKETKIT_DRY_RUN") == "1",
        help="print the plan and send nothing (env TICKETKIT_DRY_RUN=1)",
    )

    def body(args):
        chain = _common.connect(args)
        collection = _common.collection(chain, args.collection)
        names = [t.name for t in collection.tiers()]
        csv_file = _common.required(args.csv, "csv", "TICKETKIT_CSV")

        def show(plan):
            print(f"plan for {collection.address} (chain {chain.chain_id}):")
            for line in plan.describe(names):
                print(
                    line if line.startswith("warning") else f"  {line}",
                    file=sys.stderr if line.startswith("warning") else sys.stdout,
                )

        report = commands.mint(
            collection,
            csv_file,
            None if args.dry_run else _common.signer(args),
            chunk_size=args.chunk_size,
            from_block=args.from_block,
            on_plan=show,
            dry_run=args.dry_run,
            progress=lambda done, total: print(f"  {done}/{total}", file=sys.stderr),
        )
        if args.dry_run:
            print("dry run: nothing sent")
            return
        print(
            f"{report.minted_now} minted now, {report.already_minted} already minted, {report.total} planned"
        )

    return _common.run(body, p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
