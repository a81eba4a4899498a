"""gateway.db's lease: an exclusive named claim across processes sharing one database."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import text

from gateway import db


def test_a_lease_is_held_by_one_holder_until_released(app):
    engine = app.state.runtime.engine
    lease = db.try_lease(engine, "indexer-1")
    assert lease is not None and lease.alive()
    assert db.try_lease(engine, "indexer-1") is None
    other = db.try_lease(engine, "indexer-2")  # another name is another claim
    assert other is not None
    lease.release()
    again = db.try_lease(engine, "indexer-1")
    assert again is not None
    for held in (again, other):
        held.release()


def test_a_lease_is_held_against_other_processes_and_freed_when_its_holder_dies(app):
    engine = app.state.runtime.engine
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from gateway import db; "
                "lease = db.try_lease(db.make_engine(sys.argv[1]), 'indexer-7'); "
                "print('held' if lease else 'refused', flush=True); time.sleep(60)"
            ),
            engine.url.render_as_string(hide_password=False),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert db.try_lease(engine, "indexer-7") is None
    finally:
        holder.kill()
        holder.wait(10)
    # PostgreSQL ends the dead holder's session (and its lock) once it sees the socket close: within moments,
    # as a standing-by indexer would find on one of its next polls
    deadline = time.monotonic() + 10
    while (lease := db.try_lease(engine, "indexer-7")) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lease is not None
    lease.release()


def test_a_postgresql_lease_whose_session_ended_is_not_alive(app):
    engine = app.state.runtime.engine
    lease = db.try_lease(engine, "indexer-9")
    assert lease is not None
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:  # the server restarting, as far as this session knows
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                )
            )
        assert not lease.alive()
        lease.release()
        replacement = db.try_lease(engine, "indexer-9")
        assert replacement is not None
        replacement.release()
    else:
        assert lease.alive()  # an flock lasts as long as the process
        lease.release()
