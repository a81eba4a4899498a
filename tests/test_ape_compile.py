"""`ape compile` (ape-config.yaml) builds the same runtime code as `python -m ticketkit._compile`.

Runs the venv's `ape compile --force` offline against the pinned solcjs 0.8.28 shim and compares
the deployed bytecode in .build/__local__.json with ticketkit/artifacts/, minus the CBOR metadata
(its hash covers the source paths, which differ: ape compiles an isolated copy and remaps the npm
libraries to contracts/.cache/<name>/<version>).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.utils.ape import ANVIL_DIR, DEAD_PROXY, ROOT, SOLC_VERSION, ape_executable, solcx_dir

PRODUCT_CONTRACTS = ("TicketCollection", "AttendanceBadge", "TicketFactory")


def strip_metadata(code: str) -> bytes:
    """Runtime code without its trailing CBOR metadata (length in the last 2 bytes, big-endian)."""
    raw = bytes.fromhex(code.removeprefix("0x"))
    assert len(raw) > 2, "empty bytecode"
    metadata_length = int.from_bytes(raw[-2:], "big")
    assert 0 < metadata_length < len(raw) - 2, f"implausible CBOR metadata length {metadata_length}"
    assert raw[-(metadata_length + 2)] in range(0xA0, 0xC0), "metadata is not a CBOR map"
    return raw[: -(metadata_length + 2)]


def test_ape_compile_matches_ticketkit_artifacts(tmp_path: Path) -> None:
    ape = ape_executable()
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("APE_", "NO_PROXY"))}
    env.update(
        SOLCX_BINARY_PATH=str(solcx_dir()),
        # Installed dependency copies and the node-process map go here, not to ~/.ape.
        APE_DATA_FOLDER=str(tmp_path / "ape-data"),
        # ape-solidity compiles a copy of the project in a temp dir, and unpacks the libraries into
        # its contracts/.cache/; a project that is itself under the temp dir is not copied, so that
        # .cache/ would land in our contracts/ (and in `ticketkit._compile`'s sources).
        TMPDIR=str(tmp_dir),
        PATH=os.pathsep.join([str(ape.parent), str(ANVIL_DIR), env.get("PATH", "")]),
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        http_proxy=DEAD_PROXY,
        https_proxy=DEAD_PROXY,
    )
    result = subprocess.run(
        [str(ape), "compile", "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"ape compile failed ({result.returncode}):\n{output[-4000:]}"
    assert "Installing solc" not in output, output[-4000:]
    assert f"Solidity compiler '{SOLC_VERSION}+commit." in output, output[-4000:]

    manifest = json.loads((ROOT / ".build" / "__local__.json").read_text())
    [compiler] = [c for c in manifest["compilers"] if c["name"] == "solidity"]
    assert compiler["version"].startswith(SOLC_VERSION + "+")
    assert compiler["settings"]["optimizer"] == {"enabled": True, "runs": 1000}
    assert compiler["settings"]["evmVersion"] == "cancun"

    for name in PRODUCT_CONTRACTS:
        assert name in manifest["contractTypes"], f"ape did not build {name}"
        ape_code = manifest["contractTypes"][name]["runtimeBytecode"]["bytecode"]
        artifact = json.loads((ROOT / "ticketkit" / "artifacts" / f"{name}.json").read_text())
        assert strip_metadata(ape_code) == strip_metadata(artifact["deployedBytecode"]), (
            f"{name}: ape's runtime code differs from ticketkit/artifacts/{name}.json "
            "(stale artifacts? run `make artifacts`)"
        )
