"""Deploy an event described in a TOML file; safe to rerun (the record beside the file finds it).

    python scripts/deploy_collection.py examples/event.toml [--factory 0x...]

The deployment is recorded per chain in EVENT.deployments.json beside the event file (ticketkit.deployments).
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
    p.add_argument(
        "event_file",
        nargs="?",
        default=os.environ.get("TICKETKIT_EVENT_FILE"),
        help="the event TOML (env TICKETKIT_EVENT_FILE)",
    )
    p.add_argument(
        "--factory",
        default=os.environ.get("TICKETKIT_FACTORY"),
        help="an existing platform factory; without it a new one is deployed (env TICKETKIT_FACTORY)",
    )
    p.add_argument("--no-badge", action="store_true", help="no attendance badges")
    p.add_argument(
        "--record",
        default=os.environ.get("TICKETKIT_DEPLOYMENTS"),
        help="deployment record (default EVENT.deployments.json beside the event file; "
        "env TICKETKIT_DEPLOYMENTS)",
    )

    def body(args):
        path = _common.required(args.event_file, "event_file", "TICKETKIT_EVENT_FILE")
        chain = _common.connect(args)
        done = commands.deploy(
            chain,
            path,
            _common.signer(args),
            factory=args.factory,
            badge=not args.no_badge,
            record=args.record,
            warn=lambda warning: print(f"warning: {warning}", file=sys.stderr),
        )
        for note in done.notes:
            print(f"note: {note}", file=sys.stderr)
        if done.platform_deployed or done.factory_from_record:
            how = "deployed" if done.platform_deployed else "recorded"
            print(f"platform factory {done.platform.address} ({how} in {done.record})")
        if done.badge is not None:
            print(f"badge {done.badge.address}")
        state = "already deployed" if done.collection_existed else "deployed"
        print(f"collection {done.collection.address} ({state})")

    return _common.run(body, p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
