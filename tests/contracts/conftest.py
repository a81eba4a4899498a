"""Fixtures for contract tests: test-only Solidity helpers under tests/contracts/sol/."""

from __future__ import annotations

from pathlib import Path

import pytest

import ticketkit as tk
from ticketkit._compile import ROOT, compile_sources

SOL = Path(__file__).resolve().parent / "sol"


@pytest.fixture(scope="session")
def attacker_artifact():
    path = SOL / "Attacker.sol"
    return compile_sources({str(path.relative_to(ROOT)): path})["Attacker"]


@pytest.fixture()
def deploy_attacker(chain, attacker_artifact):
    """deploy_attacker(collection, sender) -> a web3 contract of tests/contracts/sol/Attacker.sol."""

    def deploy(collection: tk.Collection, sender):
        factory = chain.w3.eth.contract(abi=attacker_artifact["abi"], bytecode=attacker_artifact["bytecode"])
        receipt = chain.send(factory.constructor(collection.address), sender)
        return chain.w3.eth.contract(address=receipt["contractAddress"], abi=attacker_artifact["abi"])

    return deploy
