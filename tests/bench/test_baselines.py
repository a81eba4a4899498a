"""The baseline contracts compile with the product's compiler and settings, and measure sensibly.

No timing is asserted. Gas relations only: each baseline is an ERC-721 that tracks balances, so a
ticket to a new holder costs at least the two-slot floor, and ERC721A's extra token to the same
holder writes no slot of its own.
"""

import pytest

from bench import baselines
from bench.gas_report import FLOOR_NEW_HOLDER


@pytest.fixture(scope="module")
def artifacts():
    return baselines.compile_baselines()


def test_baselines_compile_like_the_product(artifacts):
    assert set(artifacts) == set(baselines.BASELINES)
    for artifact in artifacts.values():
        assert len(artifact["deployedBytecode"]) > 2 and artifact["abi"]
    assert baselines.compiler_matches_product(artifacts)


def test_baselines_measure(chain, artifacts):
    gas = baselines.measure(chain, artifacts)
    for prefix in ("oz_erc721", "erc721a", "erc721a_tiered"):
        assert FLOOR_NEW_HOLDER < gas[f"{prefix}_mint_distinct_per_ticket"] < 60_000
    assert (
        22_100
        < gas["oz_erc721_mint_same_holder_per_extra_ticket"]
        < gas["oz_erc721_mint_distinct_per_ticket"]
    )
    assert 0 < gas["erc721a_mint_same_holder_per_extra_ticket"] < 5_000
    # The tier costs ERC721A on every distinct holder (a hook call per `_mint`), not on a run to one holder.
    assert gas["erc721a_tiered_mint_distinct_per_ticket"] > gas["erc721a_mint_distinct_per_ticket"]
    assert (
        gas["erc721a_tiered_mint_same_holder_per_extra_ticket"]
        == gas["erc721a_mint_same_holder_per_extra_ticket"]
    )


def test_the_tiered_baseline_records_each_tokens_tier(chain, artifacts):
    owner = chain.account(0)
    contract = baselines._deploy(chain, artifacts["ERC721ATieredBaseline"], owner)
    chain.send(contract.functions.mint(3, owner.address, 2), owner)
    chain.send(contract.functions.mintBatch(5, [chain.account(1).address, chain.account(2).address]), owner)
    assert [contract.functions.tierOf(token).call() for token in range(4)] == [3, 3, 5, 5]
