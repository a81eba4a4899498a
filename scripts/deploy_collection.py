"""Deploy an event described in a TOML file (idempotent: the event name is the salt).

    python scripts/deploy_collection.py examples/event.toml --factory 0x...
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however this file is run
import _common  # noqa: E402

from ticketkit.event_file import deploy_event, load_event_file


def main(argv: Sequence[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("event_file", nargs="?", default=os.environ.get("TICKETKIT_EVENT_FILE"),
                   help="the event TOML (env TICKETKIT_EVENT_FILE)")
    p.add_argument("--factory", default=os.environ.get("TICKETKIT_FACTORY"),
                   help="an existing platform factory; without it a new one is deployed (env TICKETKIT_FACTORY)")
    p.add_argument("--no-badge", action="store_true", help="no attendance badges")

    def body(args):
        spec = load_event_file(_common.required(args.event_file, "event_file", "TICKETKIT_EVENT_FILE"))
        chain = _common.connect(args)
        done = deploy_event(chain, spec, _common.signer(args), factory=args.factory, badge=not args.no_badge)
        if done.platform_deployed:
            print(f"platform factory {done.platform.address}")
        if done.badge is not None:
            print(f"badge {done.badge.address}")
        state = "already deployed" if done.collection_existed else "deployed"
        print(f"collection {done.collection.address} ({state})")

    return _common.run(body, p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
