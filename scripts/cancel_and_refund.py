"""Cancel an event (if not yet cancelled) and refund every ticket paid on chain; safe to rerun.

python scripts/cancel_and_refund.py 0xCollection --chunk-size 200
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however this file is run
import _common

from ticketkit import commands


def main(argv: Sequence[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    _common.add_collection(p)
    p.add_argument("--chunk-size", type=int, default=200, help="tickets per transaction (default 200)")

    def body(args):
        chain = _common.connect(args)
        collection = _common.collection(chain, args.collection)
        cancelled_now, report = commands.refund(
            collection,
            _common.signer(args),
            chunk_size=args.chunk_size,
            progress=lambda done, total: print(f"  {done}/{total}", file=sys.stderr),
            cancel=True,
        )
        if cancelled_now:
            print("event cancelled")
        print(f"{report.refunded} tickets refunded ({report.found} found)")

    return _common.run(body, p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
