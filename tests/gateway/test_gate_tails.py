"""SQLite writers of several gateway processes queue on one OS lock (db.sqlite_writer), so none of them waits
in SQLite's busy handler, whose sleeps (up to 100 ms between tries) made the slowest check-ins.

Asserted on behaviour, not timings: with SQLite's busy_timeout set to 0, a writer that found the database's
write lock taken would fail at once with "database is locked"; through sqlite_writer none does."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway import db
from gateway.models import Admission
from gateway.services import gate as gate_service
from tests.utils.db import rows
from tests.utils.gate import make_gate_key

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
WRITES = 150

# One writer process: its own engine (as a gateway process has), no busy handler at all, WRITES single-row
# INSERT ... RETURNING statements each committing on its own, all through db.sqlite_writer.
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sqlalchemy import event, text
    from gateway import db

    url, name, writes, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    engine = db.make_engine(url, autocommit=True)

    @event.listens_for(engine, "connect")
    def _no_busy_handler(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        while not start.exists():  # all writers start together
            time.sleep(0.001)
        for i in range(writes):
            with db.sqlite_writer(engine):
                conn.execute(text("INSERT INTO writes (writer, n) VALUES (:w, :n) RETURNING id"),
                             {"w": name, "n": i}).one()
    engine.dispose()
""")


def test_sqlite_writers_in_several_processes_never_meet_at_the_database_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'writes.db'}"
    engine = db.make_engine(url, autocommit=True)
    start = tmp_path / "start"
    try:
        with engine.connect() as keep:  # open throughout: the WAL stays, no writer has to recover it
            keep.execute(
                text("CREATE TABLE writes (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, n INTEGER)")
            )
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            writers = [
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, url, f"w{i}", str(WRITES), str(start)],
                    env=env,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for i in range(PROCESSES)
            ]
            start.touch()
            failures = []
            for writer in writers:
                _, stderr = writer.communicate(timeout=120)
                if writer.returncode != 0:
                    failures.append(stderr)
            assert not failures, failures[0]  # "database is locked": a writer met another at SQLite's lock
            counts = dict(keep.execute(text("SELECT writer, count(*) FROM writes GROUP BY writer")).all())
        assert counts == {f"w{i}": WRITES for i in range(PROCESSES)}
        assert (tmp_path / "writes.db.write-lock").exists()
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL writers use no lock file
def test_a_check_in_waits_for_the_write_lock_another_process_holds(
    app, settings, client, org, gw_event, new_fan, issue
):
    """The gate's check-in write goes through the lock: while another process holds it, `admit` waits; once
    released, it admits."""
    fan = new_fan()
    [ticket] = issue(fan)["tickets"]
    gate = make_gate_key(client, org, gw_event["id"])
    lock_path = settings.database_url.removeprefix("sqlite:///") + ".write-lock"
    outcome: list[object] = []

    def check_in() -> None:
        from sqlmodel import Session

        try:
            with Session(app.state.runtime.autocommit_engine()) as session:
                inserted, _ = gate_service.admit(
                    session,
                    event_id=uuid.UUID(gw_event["id"]),
                    ticket_id=uuid.UUID(ticket["id"]),
                    token_id=ticket["token_id"],
                    gate_key_id=uuid.UUID(gate["id"]),
                    device="d1",
                    source="online",
                    scanned_at=datetime.now(UTC),
                )
            outcome.append(inserted)
        except BaseException as error:  # noqa: BLE001  # reported below
            outcome.append(error)

    # Another process's hold, as the kernel sees it: a lock on a file description of its own.
    other = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        writer = threading.Thread(target=check_in)
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive() and not outcome  # queued behind the holder, not written
        assert rows(app, Admission) == []
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(timeout=30)
    finally:
        os.close(other)
    assert outcome == [True]
    assert len(rows(app, Admission)) == 1
