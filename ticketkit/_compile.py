"""Compile contracts/ with the pinned solcjs (through the `tools/solc` shim and py-solc-x).

Developers only: users of the package get the artifacts written by this module and need no Node.
Run `python -m ticketkit._compile` (or `make artifacts`) after changing a contract: it writes the
artifacts (ABI, bytecode, NatSpec) and, from them, the exception classes in ticketkit/contract_errors.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from ticketkit import _codegen

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
SOLC_SHIM = ROOT / "tools" / "solc"
SOLC_VERSION = "0.8.28"
# What ships: the deployable contracts. Interfaces and abstract modules are compiled but not written.
PRODUCT_CONTRACTS = ("TicketCollection", "AttendanceBadge", "TicketFactory")
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 1000},
    "evmVersion": "cancun",
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "userdoc", "devdoc"]}
    },
}


def source_files(directory: Path = CONTRACTS_DIR) -> dict[str, Path]:
    """Every .sol file below `directory`, keyed by its path relative to the project root."""
    # ape may leave copies of libraries in contracts/.cache/: those are not our sources.
    return {
        str(p.relative_to(ROOT)): p
        for p in sorted(directory.rglob("*.sol"))
        if ".cache" not in p.relative_to(directory).parts
    }


def sources_digest(files: dict[str, Path]) -> str:
    """A hash of the sources and settings: an artifact is stale when its digest differs."""
    h = hashlib.sha256(json.dumps(SETTINGS, sort_keys=True).encode() + SOLC_VERSION.encode())
    for name, path in sorted(files.items()):
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def compile_sources(files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Compile `files` with solcjs; returns {contract name: {abi, bytecode, deployedBytecode}}."""
    import solcx
    from solcx.exceptions import SolcError

    if not SOLC_SHIM.exists() or not (ROOT / "node_modules" / "solc").exists():
        raise RuntimeError("the solc toolchain is missing: run `make node_modules` (npm ci) first")
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": path.read_text()} for name, path in files.items()},
        "settings": SETTINGS,
    }
    try:
        output = solcx.compile_standard(
            standard_input, solc_binary=SOLC_SHIM, base_path=str(ROOT), allow_paths=[str(ROOT)]
        )
    except SolcError as error:
        raise RuntimeError(f"solc failed:\n{error}") from None
    contracts: dict[str, dict[str, Any]] = {}
    for source, by_name in output["contracts"].items():
        for name, data in by_name.items():
            if source.startswith("node_modules") or not data["evm"]["bytecode"]["object"]:
                continue
            contracts[name] = {
                "contractName": name,
                "sourceName": source,
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                "userdoc": data["userdoc"],
                "devdoc": data["devdoc"],
            }
    return contracts


def build(out_dir: Path = ARTIFACTS_DIR, errors_module: Path = _codegen.OUTPUT) -> list[Path]:
    """Compile the product contracts, write their artifacts and the contract errors module generated
    from them; returns the files written."""
    files = source_files()
    compiled = compile_sources(files)
    digest = sources_digest(files)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PRODUCT_CONTRACTS:
        artifact = dict(compiled[name])
        artifact["compiler"] = {"version": SOLC_VERSION, "settings": SETTINGS, "sourcesDigest": digest}
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(path)
    written.append(_codegen.write({name: compiled[name] for name in PRODUCT_CONTRACTS}, errors_module))
    return written


if __name__ == "__main__":
    os.chdir(ROOT)
    for written_path in build():
        if written_path.suffix != ".json":
            print(f"wrote {written_path.relative_to(ROOT)}", file=sys.stderr)
            continue
        size = (len(json.loads(written_path.read_text())["deployedBytecode"]) - 2) // 2
        print(f"wrote {written_path.relative_to(ROOT)} (runtime {size:,} bytes)", file=sys.stderr)
