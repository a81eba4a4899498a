"""Airdrop tickets to the recipients of a CSV (address, tier, quantity); rerun to resume after a crash.

    python scripts/mint_from_csv.py 0xCollection recipients.csv --chunk-size 200
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however this file is run
import _common  # noqa: E402

from ticketkit.batch import mint_recipients, read_recipients


def main(argv: Sequence[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    _common.add_collection(p)
    p.add_argument("csv", nargs="?", default=os.environ.get("TICKETKIT_CSV"), help="recipients (env TICKETKIT_CSV)")
    p.add_argument("--chunk-size", type=int, default=200, help="tickets per transaction (default 200)")
    p.add_argument("--from-block", type=int, default=0, help="where to look for earlier runs")

    def body(args):
        chain = _common.connect(args)
        collection = _common.collection(chain, args.collection)
        rows = read_recipients(_common.required(args.csv, "csv", "TICKETKIT_CSV"),
                               tier_names=[t.name for t in collection.tiers()])
        report = mint_recipients(collection, rows, _common.signer(args), chunk_size=args.chunk_size,
                                 from_block=args.from_block,
                                 progress=lambda done, total: print(f"  {done}/{total}", file=sys.stderr))
        print(f"{report.minted_now} minted now, {report.already_minted} already minted, {report.total} planned")

    return _common.run(body, p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
