"""Operator nonces come from the database: separate engines (as separate gateway processes would have)
on one database never take the same nonce."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from gateway import db
from gateway.models import OperatorNonce
from gateway.services.sending import allocate_nonce, release_nonce

ADDRESS = "0x" + "ab" * 20


def test_two_engines_allocate_distinct_consecutive_nonces(settings):
    db.upgrade(settings.database_url)
    engines = [db.make_engine(settings.database_url) for _ in range(2)]
    try:
        def work(i: int) -> list[int]:
            return [allocate_nonce(engines[i % 2], 31337, ADDRESS, 5) for _ in range(10)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            nonces = [n for batch in pool.map(work, range(8)) for n in batch]
        assert len(nonces) == 80
        assert sorted(nonces) == list(range(5, 85))
        with engines[0].connect() as conn:
            stored = conn.execute(select(OperatorNonce.next_nonce)).scalars().all()  # type: ignore[call-overload]
        assert stored == [85]
    finally:
        with engines[0].begin() as conn:
            conn.execute(OperatorNonce.__table__.delete())  # type: ignore[attr-defined]
        for engine in engines:
            engine.dispose()


def test_node_count_ahead_and_release(settings):
    db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    try:
        assert allocate_nonce(engine, 1, ADDRESS, 0) == 0
        assert allocate_nonce(engine, 1, ADDRESS, 7) == 7  # the node knows of later transactions
        assert allocate_nonce(engine, 1, ADDRESS, 3) == 8  # the stored nonce is ahead of the node
        release_nonce(engine, 1, ADDRESS, 8)  # unused, and the latest: given back
        assert allocate_nonce(engine, 1, ADDRESS, 0) == 8
        allocate_nonce(engine, 1, ADDRESS, 0)  # 9
        release_nonce(engine, 1, ADDRESS, 8)  # a later one was taken: stays a gap
        assert allocate_nonce(engine, 1, ADDRESS, 0) == 10
    finally:
        with engine.begin() as conn:
            conn.execute(OperatorNonce.__table__.delete())  # type: ignore[attr-defined]
        engine.dispose()
