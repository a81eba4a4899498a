"""Engine, sessions and migrations."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, event
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, create_engine

try:
    import fcntl
except ImportError:  # Windows: no flock; processes then meet at SQLite's own lock only
    fcntl = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent


def make_engine(database_url: str, *, autocommit: bool = False) -> Engine:
    """The gateway's engine; `autocommit`: every statement commits on its own, set once per connection."""
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            # Readers never wait for a writer and a commit is one append to the log: several gateway
            # processes scanning at the doors share the file (synchronous stays FULL: a commit survives power loss).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    if autocommit:
        # The gate's hot path: no liveness round trip per checkout (a third of a verify on PostgreSQL). A
        # connection that died is invalidated with its pool on first use; that request fails once and the
        # scanner retries it (same nonce). A pool as deep as the busy doors, so no request opens a connection.
        return create_engine(database_url, pool_size=16, max_overflow=16, **options)
    return create_engine(database_url, pool_pre_ping=True)


_writer_locks: dict[tuple[int, str], threading.Lock] = {}


def _write_lock_path(engine: Engine) -> str | None:
    """`<database>.write-lock` next to a SQLite database file; None in memory (one process) or without flock."""
    database = engine.url.database or ""
    if fcntl is None or database in ("", ":memory:") or engine.url.query.get("mode") == "memory":
        return None
    return os.path.abspath(database) + ".write-lock"


@contextmanager
def sqlite_writer(engine: Engine) -> Iterator[None]:
    """Around a short write on SQLite: one writer at a time across threads and processes, queued on OS locks.

    SQLite lets one connection write at a time; the others poll its lock in the busy handler, sleeping 1, 2,
    5, 10 ... up to 100 ms between tries, and a waiter can sleep long after the lock is free. Here this
    process's threads queue on a mutex and its one waiter on an exclusive flock of `<database>.write-lock`,
    which the kernel hands over the moment the holder releases it (or exits). Every gateway process writing
    through this meets there, so the statement inside finds SQLite's lock free. Writers that do not (other
    paths) still meet at SQLite's lock with busy_timeout, as before. Not re-entrant. Any other dialect: nothing.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    path = _write_lock_path(engine)
    key = (os.getpid(), path or "")  # per process: a mutex held at a fork stays held in the child
    lock = _writer_locks.get(key) or _writer_locks.setdefault(key, threading.Lock())
    with lock:
        if path is None:
            yield
            return
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def insert(dialect: str, table: Table) -> Insert:
    """INSERT for `table` with ON CONFLICT support: PostgreSQL's or SQLite's, by the dialect's name."""
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def alembic_config(database_url: str) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """`alembic upgrade heads`, programmatically (every branch of migrations)."""
    command.upgrade(alembic_config(database_url), "heads")


def sessions(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session
