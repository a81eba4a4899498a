"""`ape run <script> --network ethereum:local:foundry` runs the scripts in scripts/.

Under ape, scripts/_common.py takes the RPC URL from ape's connected provider and the signer from
`ape.accounts.test_accounts[0]` when TICKETKIT_RPC / TICKETKIT_PRIVATE_KEY are unset.

Each `ape run` starts (and stops) its own anvil, so the deploy-then-mint test starts one anvil
itself and points ape-foundry at it with APE_FOUNDRY_HOST (ape then connects to the running
process instead of starting one, and leaves it running).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.utils.ape import ANVIL_DIR, DEAD_PROXY, ROOT, ape_executable, solcx_dir

NETWORK = "ethereum:local:foundry"
COLLECTION_LINE = re.compile(r"^collection (0x[0-9a-fA-F]{40}) \((?:already )?deployed\)$", re.MULTILINE)
LOCAL = "127.0.0.1,localhost"


def _ape_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    ape = ape_executable()
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("APE_", "NO_PROXY", "TICKETKIT_"))
    }
    env.update(
        SOLCX_BINARY_PATH=str(solcx_dir()),
        APE_DATA_FOLDER=str(tmp_path / "ape-data"),
        TMPDIR=str(tmp_dir),  # see tests/test_ape_compile.py
        PATH=os.pathsep.join([str(ape.parent), str(ANVIL_DIR), env.get("PATH", "")]),
        # No downloads; but anvil's JSON-RPC on localhost must bypass the dead proxy, or ape times
        # out waiting for the anvil it started.
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        http_proxy=DEAD_PROXY,
        https_proxy=DEAD_PROXY,
        NO_PROXY=LOCAL,
        no_proxy=LOCAL,
        NO_COLOR="1",
    )
    env["TICKETKIT_DEPLOYMENTS"] = str(tmp_path / "event.deployments.json")  # not beside examples/event.toml
    env.update(extra)
    return env


def _ape_run(script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(ape_executable()), "run", script, "--network", NETWORK],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"ape run {script} failed ({result.returncode}):\n{output[-4000:]}"
    assert "error [" not in output, output[-4000:]  # the scripts' own one-line errors
    return output


def test_ape_run_deploy_collection(tmp_path: Path) -> None:
    env = _ape_env(tmp_path, TICKETKIT_EVENT_FILE="examples/event.toml")
    output = _ape_run("deploy_collection", env)
    assert COLLECTION_LINE.search(output), output[-4000:]
    assert "Starting 'anvil' process" in output, output[-4000:]


def test_ape_run_deploy_then_mint_from_csv(tmp_path: Path) -> None:
    from ticketkit.chain import local_chain

    with local_chain() as chain:
        url = chain.url
        env = _ape_env(tmp_path, APE_FOUNDRY_HOST=url, TICKETKIT_EVENT_FILE="examples/event.toml")
        deployed = _ape_run("deploy_collection", env)
        found = COLLECTION_LINE.search(deployed)
        assert found, deployed[-4000:]
        address = found.group(1)
        assert chain.w3.eth.get_code(address), f"no code at {address} on the test's anvil"

        env.update(TICKETKIT_COLLECTION=address, TICKETKIT_CSV="examples/recipients.csv")
        minted = _ape_run("mint_from_csv", env)
        summary = re.search(r"^(\d+) minted now, (\d+) already minted, (\d+) planned$", minted, re.MULTILINE)
        assert summary, minted[-4000:]
        now, already, total = map(int, summary.groups())
        assert now == total > 0 and already == 0, summary.group(0)

        # ape connected to the running anvil and left it running.
        assert "Starting 'anvil' process" not in deployed + minted
        assert chain.w3.eth.block_number > 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__, "-v"]))


def test_ape_run_failure_exits_non_zero(tmp_path: Path) -> None:
    # Without an event file the script refuses; under `ape run` that must be a non-zero exit status.
    result = subprocess.run(
        [str(ape_executable()), "run", "deploy_collection", "--network", NETWORK],
        cwd=ROOT,
        env=_ape_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode != 0
    assert "error [invalid_input]" in result.stdout + result.stderr
