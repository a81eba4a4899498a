"""The random-fault scenario, small and bounded for CI (the full size: `make chaos`, bench/chaos.py)."""

from __future__ import annotations

import pytest

from .scenario import run_scenario

# 18 tickets in 3 issuances, 2 gifts, 2 resales, 18 admissions; a block every 0.2 s, a fault every ~0.5 s.
SMALL = {
    "tickets": 18,
    "gifts": 2,
    "resales": 2,
    "admissions": 18,
    "per_issue": 6,
    "block_time": 0.2,
    "fault_every": 0.5,
    "bound_seconds": 60,
}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_under_random_faults_every_record_lands_once_and_the_database_equals_the_chain(database, tmp_path):
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'chaos.db'}"
        report = run_scenario(url, **SMALL)
    else:
        from tests.utils.db import fresh_pg_database

        with fresh_pg_database("ticketkit_chaos") as url:
            report = run_scenario(url, **SMALL)
    assert report.mismatches == 0, report.problems
    assert report.records >= 3 + 2 + 2 + 1
    assert sum(report.faults.values()) > 0
    assert report.max_fee_paid_gwei <= 500
    assert report.convergence_blocks <= 300  # the bound: done within 60 s (300 blocks) of the faults stopping
