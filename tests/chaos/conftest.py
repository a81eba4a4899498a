"""Fixtures for the fault tests: fault-injecting proxies (tests/utils/fault_proxy.py) in front of real anvil
nodes.

`chain` (tests/conftest.py) is the session's anvil; `make_proxy()` puts a new FaultProxy in front of it (or of
`upstream=`) and closes it after the test; `proxy` is one such proxy with a fixed seed. `chaos_settings` sizes
the fault scenarios (marker `chaos`): small in CI, the issue's figures under `make chaos`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from tests.utils.fault_proxy import FaultProxy


@pytest.fixture()
def make_proxy(chain):
    made: list[FaultProxy] = []

    def make(upstream: str | None = None, *, seed: int = 13, **faults) -> FaultProxy:
        proxy = FaultProxy(upstream or chain.url, seed=seed)
        proxy.start()
        made.append(proxy)
        return proxy.set(**faults)

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture()
def proxy(make_proxy) -> FaultProxy:
    return make_proxy()


@dataclass(frozen=True)
class ChaosSettings:
    """How big and how long a fault scenario runs: small and bounded in CI; the issue's figures under
    `make chaos` (TICKETKIT_CHAOS=long). TICKETKIT_CHAOS_SEED picks the faults (default 13)."""

    long: bool
    seed: int
    tickets: int  # issued to account fans
    gifts: int
    resales: int
    admissions: int  # gate admissions drained to the chain
    block_time: float  # anvil --block-time (s)
    fault_seconds: float  # how long the random faults last before they stop


CI_CHAOS = {
    "tickets": 40,
    "gifts": 6,
    "resales": 4,
    "admissions": 40,
    "block_time": 1.0,
    "fault_seconds": 8.0,
}
LONG_CHAOS = {
    "tickets": 2_000,
    "gifts": 200,
    "resales": 100,
    "admissions": 2_000,
    "block_time": 1.0,
    "fault_seconds": 120.0,
}


@pytest.fixture(scope="session")
def chaos_settings() -> ChaosSettings:
    long = os.environ.get("TICKETKIT_CHAOS", "").lower() == "long"
    seed = int(os.environ.get("TICKETKIT_CHAOS_SEED", "13"))
    return ChaosSettings(long=long, seed=seed, **(LONG_CHAOS if long else CI_CHAOS))
