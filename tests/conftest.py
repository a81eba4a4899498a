"""Shared fixtures: a real anvil per test session (per xdist worker), snapshots per test; the gateway's app
over it (tests/gateway and tests/hardening: each directory's conftest.py gives its `database_url`)."""

from __future__ import annotations

import os
import tempfile

import pytest

import ticketkit as tk
from tests.utils import ETH

# The CLI's transaction journal (ticketkit.tx.Journal) goes to a temporary directory, not the working tree.
os.environ.setdefault(
    "TICKETKIT_JOURNAL", os.path.join(tempfile.mkdtemp(prefix="ticketkit-journal-"), "journal.jsonl")
)


@pytest.fixture(scope="session")
def chain():
    with tk.local_chain() as chain:
        yield chain


@pytest.fixture(scope="session")
def platform(chain):
    return tk.deploy_platform(chain, chain.account(0))


@pytest.fixture(autouse=True)
def _isolate(request):
    """Roll the chain back after each test that used it, so tests cannot leak state."""
    if "chain" not in request.fixturenames:
        yield
        return
    chain = request.getfixturevalue("chain")
    snapshot = chain.snapshot()
    yield
    chain.revert_to(snapshot)


@pytest.fixture()
def organiser(chain):
    return chain.account(0)


@pytest.fixture()
def fans(chain):
    return [chain.account(i) for i in range(1, 10)]


@pytest.fixture()
def make_event(chain, platform, organiser):
    """Make a collection with a badge: make_event(tiers=..., **EventConfig overrides)."""
    counter = iter(range(10**6))

    def make(tiers=None, badge=True, **overrides):
        now = chain.timestamp()
        n = next(counter)
        config = {
            "name": f"Gig {n}",
            "symbol": "GIG",
            "start_time": now + 30 * 86400,
            "transfer_lock_time": now + 29 * 86400,
            "resale_cap_bps": 11_000,
            "royalty_bps": 500,
        }
        config.update(overrides)
        tiers = tiers or [
            tk.TierConfig(
                "General",
                face_value=ETH // 10,
                supply=100,
                sale_start=now - 1,
                sale_end=now + 20 * 86400,
                max_per_wallet=4,
            ),
            tk.TierConfig(
                "VIP", face_value=ETH // 2, supply=10, sale_start=now - 1, sale_end=now + 20 * 86400
            ),
        ]
        the_badge = (
            platform.create_badge("Badges", "BDG", salt=f"badge-{n}-{now}", sender=organiser)
            if badge is True
            else badge or None
        )
        return platform.create_collection(
            tk.EventConfig(**config), tiers, salt=f"event-{n}-{now}", badge=the_badge, sender=organiser
        )

    return make


@pytest.fixture()
def event(make_event):
    return make_event()


# ---- the gateway over the session anvil: tests/gateway/ and tests/hardening/ (each picks its
# `database_url`). The gateway is imported only by the tests that take these fixtures.
@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for the test session (per xdist worker), dropped after."""
    from tests.utils.db import fresh_pg_database

    with fresh_pg_database() as url:
        yield url


@pytest.fixture()
def operator(chain):
    return chain.account(9)


@pytest.fixture()
def settings(database_url, chain, operator):
    """The gateway's settings over the session anvil. On PostgreSQL (one database per session) the tables are
    emptied after the test, whichever app it made (`app`, or its own create_app)."""
    from gateway.core.config import Settings

    yield Settings(
        database_url=database_url,
        rpc_url=chain.url,
        chain_id=chain.chain_id,
        operator_key=operator.key.to_0x_hex(),
        key_encryption_secret="test-secret-not-for-production",
        confirmations=0,  # anvil mines a block per transaction and no more
        send_wait_seconds=30,  # the tests read a write's outcome in its answer (the request
        sender_enabled=False,
    )  # drives the worker itself: no background thread racing the tests
    if database_url.startswith("postgresql"):
        from sqlalchemy import create_engine

        engine = create_engine(database_url)
        _empty_tables(engine)
        engine.dispose()


def _empty_tables(engine) -> None:
    """On PostgreSQL (one database per session), every table emptied."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from gateway import models  # noqa: F401  # every table in SQLModel.metadata

    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # A test that left a read open (a Session never closed) holds a lock TRUNCATE would wait on
            # forever: fail the teardown with PostgreSQL's "lock timeout" instead of hanging the suite.
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture()
def app(settings):
    """The gateway's app; on PostgreSQL its tables are emptied after the test (a module's own `settings`
    fixture may not: this one does)."""
    from gateway.main import create_app

    app = create_app(settings)
    yield app
    _empty_tables(app.state.runtime.engine)
    app.state.runtime.dispose()
