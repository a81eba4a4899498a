"""Fixtures for the fault tests: fault-injecting proxies (tests/chaos/proxy.py) in front of real anvil nodes.

`chain` (tests/conftest.py) is the session's anvil; `make_proxy()` puts a new FaultProxy in front of it (or of
`upstream=`) and closes it after the test; `proxy` is one such proxy with a fixed seed.
"""

from __future__ import annotations

import pytest

from .proxy import FaultProxy


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
