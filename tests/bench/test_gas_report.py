"""Gas sanity bounds: each fails if an operation gets more expensive than it should be.

The figures come from bench.gas_report.measure (receipt gasUsed on the session anvil); see docs/gas.md.
"""

import contextlib
import json

import pytest

from bench import gas_report
from bench.gas_report import FLOOR_NEW_HOLDER, ROWS, measure

# Published anchors (docs/gas.md).
UNLOCK_PURCHASE_BOUND = 200_000
UNLOCK_LOCK_CREATION = 406_010


@pytest.fixture(scope="module")
def gas(chain):
    """One run of the scenario, rolled back afterwards so nothing leaks into other tests."""
    snapshot = chain.snapshot()
    try:
        yield measure(chain)
    finally:
        chain.revert_to(snapshot)


def test_every_figure_is_reported_and_positive(gas):
    expected = {key for _, total, per in ROWS for key in (total, per) if key}
    assert set(gas) == expected
    assert all(isinstance(v, int) and v > 0 for v in gas.values()), gas


def test_mint_to_distinct_holders_sits_just_above_the_storage_floor(gas):
    # two cold slots written from zero per new holder (owner, balance) cannot be avoided
    assert FLOOR_NEW_HOLDER < gas["mint_distinct_per_ticket"] < 60_000


def test_extra_ticket_to_the_same_holder_costs_one_slot(gas):
    # one owner slot from zero (22.1k) plus the Transfer log; the balance slot is already warm
    assert 22_100 < gas["mint_same_holder_per_extra_ticket"] < gas["mint_distinct_per_ticket"]


def test_checkin_with_badge(gas):
    assert gas["checkin_with_badge_per_ticket"] < 70_000
    assert gas["checkin_1"] < 120_000


def test_primary_purchase_within_unlocks_bound(gas):
    assert gas["buy_primary"] < UNLOCK_PURCHASE_BOUND


def test_resale_and_refunds(gas):
    assert gas["list"] < 80_000
    assert gas["resale_buy"] < 150_000
    assert gas["refund_claim_1"] < 100_000
    assert gas["refund_per_ticket"] < 40_000


def test_minimal_collection_within_unlocks_lock_creation(gas):
    # like for like with an Unlock lock: one tier, no badge
    assert gas["new_collection_minimal"] < UNLOCK_LOCK_CREATION


def test_new_collection_regression_guard(gas):
    # measured 540,294 (2 tiers ~74k each, badge registration ~100k on a badge's first event)
    assert gas["new_collection"] < 560_000


@pytest.mark.xfail(
    strict=True,
    reason="createCollection with 2 tiers + badge registration measures ~540k: "
    "each tier writes 3 fresh slots (~74k) and the badge registration ~100k; see docs/gas.md",
)
def test_new_collection_within_unlocks_lock_creation(gas):
    assert gas["new_collection"] < UNLOCK_LOCK_CREATION


def test_figures_are_deterministic(chain, gas):
    # fresh random holders, keys and salts again: identical figures (no zero byte in varying calldata)
    assert measure(chain) == gas


def test_report_writes_json(tmp_path, monkeypatch, gas):
    """The CLI's output format, without starting a second anvil."""
    monkeypatch.setattr(gas_report, "local_chain", contextlib.nullcontext)
    monkeypatch.setattr(gas_report, "measure", lambda chain: dict(gas))
    out = tmp_path / "results" / "gas.json"
    assert gas_report.main(["--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["gas"] == gas
    assert data["floor_new_holder"] == FLOOR_NEW_HOLDER
    assert "method" in data["notes"]
