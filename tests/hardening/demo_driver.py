"""Run the full `make demo` (ticketkit.demo, then gateway.demo) in this process with every logger at DEBUG
on stderr, and write to OUT/secrets.json every secret that existed: the anvil keys the demos used, the
gateway's operator key and key-encryption secret, and each API key and session token the API handed out.
The gateway demo's database is kept in OUT/gateway (its fans' custodial keys are decrypted from it).

    python -m tests.hardening.demo_driver OUT      (from the repository root)
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import types
from pathlib import Path

from tests.utils.leaks import tokens_in


def main(out: Path) -> None:
    logging.basicConfig(
        level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from fastapi.testclient import TestClient

    import gateway.demo
    import ticketkit.demo
    from ticketkit.chain import Chain

    for name in list(logging.root.manager.loggerDict):  # libraries that set a level of their own (SQLAlchemy)
        logging.getLogger(name).setLevel(logging.DEBUG)

    found: dict[str, set[str]] = {"anvil_keys": set(), "gateway": set(), "tokens": set()}
    account = Chain.account

    def recording_account(self, index):
        chosen = account(self, index)
        found["anvil_keys"].add(chosen.key.to_0x_hex())
        return chosen

    Chain.account = recording_account  # type: ignore[method-assign]  # records the accounts used

    def recording_create_app(settings):
        found["gateway"] |= {
            settings.key_encryption_secret.get_secret_value(),
            settings.operator_key.get_secret_value(),
        }
        (out / "database_url").write_text(settings.database_url)
        return create_app(settings)

    class RecordingClient(TestClient):
        def request(self, *args, **kwargs):
            response = super().request(*args, **kwargs)
            with contextlib.suppress(ValueError):
                found["tokens"] |= tokens_in(response.json())
            return response

    create_app = gateway.demo.create_app
    gateway.demo.create_app = recording_create_app
    gateway.demo.TestClient = RecordingClient
    kept = out / "gateway"
    kept.mkdir(parents=True, exist_ok=True)
    keep = types.SimpleNamespace(TemporaryDirectory=lambda: contextlib.nullcontext(str(kept)))
    gateway.demo.tempfile = keep

    ticketkit.demo.run()
    gateway.demo.run()
    (out / "secrets.json").write_text(json.dumps({k: sorted(v) for k, v in found.items()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
