"""The ape toolchain for the `ape compile` / `ape run` tests: offline, against the repo's solcjs shim."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLC_VERSION = "0.8.28"
ANVIL_DIR = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin"
# Any HTTP(S) request through `requests` (a solc download, a version list) fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


def ape_executable() -> Path:
    for candidate in (Path(sys.executable).parent / "ape", ROOT / ".venv" / "bin" / "ape"):
        if candidate.is_file():
            return candidate
    pytest.fail("ape is not installed: run make deps (it installs the dev extra)")


def solcx_dir() -> Path:
    """The repo's .solcx, with py-solc-x's name for the solcjs shim (as the Makefile makes it)."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        pytest.fail("the Node toolchain is not installed: run make deps")
    solcx = ROOT / ".solcx"
    link = solcx / f"solc-v{SOLC_VERSION}"
    if not link.exists():
        solcx.mkdir(exist_ok=True)
        if link.is_symlink():  # dangling
            link.unlink()
        try:
            link.symlink_to(Path("..") / "tools" / "solc")
        except FileExistsError:  # made meanwhile by a parallel run
            pass
    return solcx
