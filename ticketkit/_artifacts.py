"""The compiled contracts shipped inside the package (written by `ticketkit._compile`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


@cache
def load(name: str) -> dict[str, Any]:
    """The artifact of contract `name`: abi, bytecode, deployedBytecode, compiler."""
    artifact: dict[str, Any] = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
    return artifact


@cache
def all_abis() -> tuple[dict[str, Any], ...]:
    """Every ABI entry of every shipped contract (for decoding errors and events)."""
    entries: list[dict[str, Any]] = []
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        entries.extend(json.loads(path.read_text())["abi"])
    return tuple(entries)
