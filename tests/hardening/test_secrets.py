"""No private key, session token, API key or the key-encryption secret in any log line or output: the full
demo (`make demo`: ticketkit.demo, then gateway.demo) runs with every logger at DEBUG (SQLAlchemy's
statements and rows, web3's requests, the gateway's own), and the captured stdout and stderr are searched
for every secret that existed (hex with or without 0x, any case). Error bodies of the fuzzed API are
checked the same way in test_fuzz_openapi.py, the soak's server log in test_soak.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.utils.leaks import custodial_keys, find_leaks

ROOT = Path(__file__).resolve().parents[2]


def test_demo_logs_and_output_carry_no_secret(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "tests.hardening.demo_driver", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    captured = run.stdout + run.stderr
    assert run.returncode == 0, captured[-3000:]
    found = json.loads((tmp_path / "secrets.json").read_text())
    secret, operator_key = sorted(found["gateway"], key=lambda s: s.startswith("0x"))
    keys = custodial_keys((tmp_path / "database_url").read_text(), secret)
    assert len(keys) == 3  # alice, bob, carol
    # the organiser's API key, three fans' session tokens (and whatever else the demo makes: a gate key)
    assert len(found["tokens"]) >= 4 and {t[:4] for t in found["tokens"]} >= {"tko_", "tkf_"}
    assert len(found["anvil_keys"]) >= 6  # ticketkit.demo: accounts 0-4; gateway.demo: 0 and the operator, 9
    # the capture is real: DEBUG lines from SQLAlchemy and web3, and the demos' own output
    assert "sqlalchemy.engine" in captured and "web3" in captured and "carol bought" in captured
    token = found["tokens"][0]
    # the search works: a key without 0x, upper case, and a token are found
    assert len(find_leaks(f"{captured} {operator_key[2:].upper()} {token}", {operator_key, token})) == 2
    everything = {*found["anvil_keys"], *found["tokens"], *keys.values(), secret, operator_key}
    leaks = find_leaks(captured, everything)
    assert not leaks, f"secrets in the demo's logs or output: {leaks}"
