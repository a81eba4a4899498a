"""Open a tier's presale for holders of attendance badges (or --close it).

    python scripts/open_presale.py 0xCollection --tier VIP --min-events 1 --events 1,2 \
        --ends 2027-03-03T10:00Z

With --snapshot [--block N], the holders eligible at that block are also fixed as a Merkle root on the tier
(ticketkit.presale), so they can buy with a proof (`buyWithProof`) as well as by their badges.
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
        "--tier", default=os.environ.get("TICKETKIT_TIER"), help="tier name or index (env TICKETKIT_TIER)"
    )
    p.add_argument(
        "--min-events",
        type=int,
        default=int(os.environ.get("TICKETKIT_PRESALE_MIN_EVENTS", "1")),
        help="badges needed, of --events",
    )
    p.add_argument(
        "--events",
        default=os.environ.get("TICKETKIT_PRESALE_EVENTS", ""),
        help="badge event ids that count, e.g. 1,2",
    )
    p.add_argument(
        "--ends", default=os.environ.get("TICKETKIT_PRESALE_ENDS"), help="ISO 8601 end, with timezone"
    )
    p.add_argument("--close", action="store_true", help="end the presale now")
    p.add_argument(
        "--snapshot",
        action="store_true",
        help="also fix the eligible set at --block as a Merkle root and publish it (buyWithProof)",
    )
    p.add_argument(
        "--block",
        type=int,
        default=_common.env_int("TICKETKIT_PRESALE_BLOCK"),
        help="snapshot block (env TICKETKIT_PRESALE_BLOCK; default: the head now)",
    )

    def body(args):
        tier = _common.required(args.tier, "--tier", "TICKETKIT_TIER")
        ends_at = commands.presale_end(args.ends or None, args.close)
        event_ids = commands.event_ids(args.events)
        chain = _common.connect(args)
        collection = _common.collection(chain, args.collection)
        tier_id = commands.tier_id(collection, tier)
        if args.close:
            collection.set_presale(tier_id, ends_at=0, sender=_common.signer(args))
            print(f"presale of tier {tier_id} closed")
        else:
            root = b"\0" * 32
            if args.snapshot:
                snap = commands.presale_snapshot(chain, collection, event_ids, args.min_events, args.block)
                root = snap.root
                print(f"snapshot at block {snap.block}: {len(snap.addresses)} eligible, root 0x{root.hex()}")
            collection.set_presale(
                tier_id,
                ends_at=ends_at,
                min_events=args.min_events,
                event_ids=event_ids,
                merkle_root=root,
                sender=_common.signer(args),
            )
            print(f"presale of tier {tier_id} open until {args.ends}")

    return _common.run(body, p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
