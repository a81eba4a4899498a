"""Baselines: a plain OpenZeppelin ERC-721 and an ERC721A, compiled and measured like ticketkit.

    python -m bench.baselines [--out bench/results/baselines.json]

The sources are in bench/contracts/ (benchmark baselines, not product): `OZBaseline` (OpenZeppelin
Contracts 5.4.0 `ERC721` + `Ownable`, auto-increment ids) and `ERC721ABaseline` (erc721a 4.3.0 +
`Ownable`), and `ERC721ATieredBaseline`: ERC721A that also records each token's tier in its extra data, the
least an ERC721A ticket must store (docs/gas.md). All are compiled in this run by the product's own compile
step (`ticketkit._compile`: py-solc-x driving the npm solcjs through tools/solc, the same compiler version,
optimizer runs and EVM version as the shipped artifacts), deployed on a fresh anvil and measured with
bench/gas_report.py's
method:

- every figure is a receipt's gasUsed (21,000 base, calldata and execution, refunds deducted);
- each contract gets one warm-up mint first (its id counter leaves zero), not measured;
- holders are fresh random addresses without a zero byte (the same calldata cost every run);
- `mint_distinct_per_ticket` = gas(batch of 100 to 100 distinct fresh holders) / 100;
- `mint_same_holder_per_extra_ticket` = (gas(batch of 100 to one fresh holder) - gas(mint 1 to a
  fresh holder)) / 99.

Each contract is called through its natural batch: OZBaseline.mintBatch(address[]) for both shapes
(as ticketkit's mintBatch, one address per ticket); ERC721A.mintBatch(address[]) (one `_mint(to, 1)`
each) for distinct holders and ERC721A's own `_mint(to, quantity)` for one holder, where ERC721A
writes one ownership slot for the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from bench.gas_report import BATCH, fresh_addresses
from ticketkit import _artifacts, _compile
from ticketkit.chain import Chain, local_chain

__all__ = ["BASELINES", "CONTRACTS_DIR", "compile_baselines", "compiler_matches_product", "main", "measure"]

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
BASELINES = ("OZBaseline", "ERC721ABaseline", "ERC721ATieredBaseline")

NOTES: dict[str, str] = {
    "method": "receipt gasUsed on anvil, as bench/gas_report.py: one warm-up mint per contract (not "
    "measured), fresh holders without zero bytes; distinct = batch of 100 / 100; "
    "same holder per extra = (batch of 100 to one holder - mint 1) / 99",
    "oz_erc721": "OpenZeppelin Contracts 5.4.0 ERC721 + Ownable, mintBatch(address[]) looping _mint "
    "with auto-increment ids (bench/contracts/OZBaseline.sol)",
    "erc721a": "erc721a 4.3.0 + Ownable: mintBatch(address[]) looping _mint(to, 1) for distinct "
    "holders; mint(to, quantity) = _mint(to, quantity) for one holder "
    "(bench/contracts/ERC721ABaseline.sol)",
    "erc721a_tiered": "erc721a 4.3.0 + Ownable, each token's tier in ERC721A's extra data through "
    "`_extraData` "
    "(a transient value set once per call): the floor of a ticket on ERC721A, same mints "
    "(bench/contracts/ERC721ATieredBaseline.sol)",
}


def compile_baselines() -> dict[str, dict[str, Any]]:
    """Compile bench/contracts/ with the product's compiler and settings: {name: artifact}."""
    compiled = _compile.compile_sources(_compile.source_files(CONTRACTS_DIR))
    missing = [name for name in BASELINES if name not in compiled]
    if missing:
        raise RuntimeError(f"baseline contracts not compiled: {', '.join(missing)}")
    compiler = {"version": _compile.SOLC_VERSION, "settings": _compile.SETTINGS}
    return {name: {**compiled[name], "compiler": compiler} for name in BASELINES}


def compiler_matches_product(artifacts: dict[str, dict[str, Any]]) -> bool:
    """Whether the baselines were built with the same compiler version and settings as the shipped
    ticketkit artifacts (if not, the comparison is not like for like)."""
    product = _artifacts.load("TicketCollection").get("compiler", {})
    ours = next(iter(artifacts.values()))["compiler"]
    return product.get("version") == ours["version"] and json.dumps(
        product.get("settings"), sort_keys=True
    ) == json.dumps(ours["settings"], sort_keys=True)


def _deploy(chain: Chain, artifact: dict[str, Any], sender: LocalAccount) -> Any:
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = chain.send(factory.constructor(), sender)
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def _gas(chain: Chain, call: Any, sender: LocalAccount) -> int:
    return int(chain.send(call, sender)["gasUsed"])


def measure(chain: Chain, artifacts: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
    """Deploy both baselines on `chain` (account 0 owns them) and measure their mints; gas by name."""
    artifacts = artifacts or compile_baselines()
    owner = chain.account(0)
    gas: dict[str, int] = {}

    oz = _deploy(chain, artifacts["OZBaseline"], owner).functions
    _gas(chain, oz.mintBatch([owner.address]), owner)  # warm-up (not measured)
    gas["oz_erc721_mint_1"] = _gas(chain, oz.mintBatch(fresh_addresses(1)), owner)
    gas["oz_erc721_mint_same_holder_batch_100"] = _gas(chain, oz.mintBatch(fresh_addresses(1) * BATCH), owner)
    gas["oz_erc721_mint_distinct_batch_100"] = _gas(chain, oz.mintBatch(fresh_addresses(BATCH)), owner)

    azuki = _deploy(chain, artifacts["ERC721ABaseline"], owner).functions
    _gas(chain, azuki.mint(owner.address, 1), owner)  # warm-up: _currentIndex leaves zero (not measured)
    gas["erc721a_mint_1"] = _gas(chain, azuki.mint(fresh_addresses(1)[0], 1), owner)
    gas["erc721a_mint_same_holder_batch_100"] = _gas(chain, azuki.mint(fresh_addresses(1)[0], BATCH), owner)
    gas["erc721a_mint_distinct_batch_100"] = _gas(chain, azuki.mintBatch(fresh_addresses(BATCH)), owner)

    tiered = _deploy(chain, artifacts["ERC721ATieredBaseline"], owner).functions
    _gas(chain, tiered.mint(1, owner.address, 1), owner)  # warm-up (not measured)
    gas["erc721a_tiered_mint_1"] = _gas(chain, tiered.mint(1, fresh_addresses(1)[0], 1), owner)
    gas["erc721a_tiered_mint_same_holder_batch_100"] = _gas(
        chain, tiered.mint(1, fresh_addresses(1)[0], BATCH), owner
    )
    gas["erc721a_tiered_mint_distinct_batch_100"] = _gas(
        chain, tiered.mintBatch(1, fresh_addresses(BATCH)), owner
    )

    for prefix in ("oz_erc721", "erc721a", "erc721a_tiered"):
        gas[f"{prefix}_mint_distinct_per_ticket"] = round(gas[f"{prefix}_mint_distinct_batch_100"] / BATCH)
        gas[f"{prefix}_mint_same_holder_per_extra_ticket"] = round(
            (gas[f"{prefix}_mint_same_holder_batch_100"] - gas[f"{prefix}_mint_1"]) / (BATCH - 1)
        )
    return gas


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/baselines.json"))
    args = parser.parse_args(argv)
    artifacts = compile_baselines()
    same = compiler_matches_product(artifacts)
    if not same:
        print(
            "warning: the shipped ticketkit artifacts were built with other compiler settings than the "
            "baselines: run `make artifacts` for a like-for-like comparison",
            file=sys.stderr,
        )
    with local_chain() as chain:
        gas = measure(chain, artifacts)
    for key, value in gas.items():
        print(f"{key:>45}: {value:>10,}")
    settings = _compile.SETTINGS
    notes = {
        **NOTES,
        "compiler": f"solc {_compile.SOLC_VERSION}, evm {settings['evmVersion']}, optimizer "
        f"{settings['optimizer']['runs']} runs (ticketkit._compile.SETTINGS)",
        "same_compiler_as_product": str(same).lower(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps({"gas": gas, "notes": notes}, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
