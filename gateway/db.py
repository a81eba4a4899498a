"""Engine, sessions and migrations."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, Engine, Result, Table, event, text
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, create_engine

from .core import metrics
from .core.config import Settings

try:
    import fcntl
except ImportError:  # Windows: no flock; processes then meet at SQLite's own lock only
    fcntl = None  # type: ignore[assignment]  # the module or None: the lock helpers check

HERE = Path(__file__).resolve().parent


BACKGROUND_CONNECTIONS = 4  # the indexer, the check-in queue, the transaction sender, start-up work
PROBE_CONNECTIONS = 2  # /readyz and /metrics (their lane's limit, api/admission.py)


def pool_sizes(settings: Settings) -> tuple[int, int]:
    """(main engine, autocommit engine): one connection for every request a process may run on each at once
    (every lane's limit: the gate's verify and scan, the fans' ticket reads and their authentication on a
    cache miss use the autocommit engine, one after the other; every other route the main one) and for the
    background threads, so no thread ever waits for a connection held by a request that waits for a thread."""
    main = settings.lane_api_limit + settings.lane_gate_limit + PROBE_CONNECTIONS + BACKGROUND_CONNECTIONS
    return main, settings.lane_gate_limit + settings.lane_api_limit + 1  # the fans' reads use it too


def engine_for(settings: Settings, *, autocommit: bool = False) -> Engine:
    main, gate = pool_sizes(settings)
    return make_engine(
        settings.database_url,
        autocommit=autocommit,
        pool_size=gate if autocommit else main,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
    )


def make_engine(
    database_url: str,
    *,
    autocommit: bool = False,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    connect_timeout: int = 5,
    statement_timeout: float | None = None,
) -> Engine:
    """An engine; `autocommit`: every statement commits on its own, set once per connection. A checkout waits
    at most `pool_timeout` seconds (then sqlalchemy.exc.TimeoutError: 503 `database_busy`). The app's engines
    come from `engine_for` (fixed pools sized for the lanes); the defaults here are SQLAlchemy's, for scripts
    and tests."""
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
    }
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            # Readers never wait for a writer and a commit is one append to the log: several gateway
            # processes scanning at the doors share the file (synchronous stays FULL: a commit survives power
            # loss).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return _measured(engine, "autocommit" if autocommit else "main", pool_size)
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout}
    if statement_timeout:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
    if autocommit:
        # The gate's hot path: no liveness round trip per checkout (a third of a verify on PostgreSQL). A
        # connection that died is invalidated with its pool on first use; that request fails once and the
        # scanner retries it (same nonce).
        return _measured(
            create_engine(database_url, connect_args=connect_args, **options), "autocommit", pool_size
        )
    return _measured(
        create_engine(database_url, connect_args=connect_args, pool_pre_ping=True, **options),
        "main",
        pool_size,
    )


def _measured(engine: Engine, name: str, size: int) -> Engine:
    """Connections in use, for /metrics (gateway_db_connections_in_use)."""
    in_use = metrics.POOL_IN_USE.labels(name)
    metrics.POOL_SIZE.labels(name).set(size)
    event.listen(engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine, "checkin", lambda *_: in_use.dec())
    return engine


_writer_locks: dict[tuple[int, str], threading.Lock] = {}


def _lock_path(engine: Engine, suffix: str) -> str | None:
    """`<database>.<suffix>` next to a SQLite database file; None in memory (one process) or without flock."""
    database = engine.url.database or ""
    if fcntl is None or database in ("", ":memory:") or engine.url.query.get("mode") == "memory":
        return None
    return f"{os.path.abspath(database)}.{suffix}"


def _open_lock_file(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)


@contextmanager
def sqlite_writer(engine: Engine) -> Iterator[None]:
    """Around a short write on SQLite: one writer at a time across threads and processes, queued on OS locks.

    SQLite lets one connection write at a time; the others poll its lock in the busy handler, sleeping 1, 2,
    5, 10 ... up to 100 ms between tries, and a waiter can sleep long after the lock is free. Here this
    process's threads queue on a mutex and its one waiter on an exclusive flock of `<database>.write-lock`,
    which the kernel hands over the moment the holder releases it (or exits). Every gateway process writing
    through this meets there, so the statement inside finds SQLite's lock free. Writers that do not (other
    paths) still meet at SQLite's lock with busy_timeout, as before. Not re-entrant. Any other dialect:
    nothing.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    path = _lock_path(engine, "write-lock")
    key = (os.getpid(), path or "")  # per process: a mutex held at a fork stays held in the child
    lock = _writer_locks.get(key) or _writer_locks.setdefault(key, threading.Lock())
    with lock:
        if path is None:
            yield
            return
        fd = _open_lock_file(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


class Lease:
    """An exclusive, named claim across every process that uses one database, held until `release` or the
    holder's death: a PostgreSQL session advisory lock on a connection kept for it, or on SQLite an flock of
    `<database>.<name>.lock` (in memory: one process, always granted). From `try_lease`."""

    def __init__(self, name: str, *, connection: Connection | None = None, fd: int | None = None):
        self.name, self._connection, self._fd = name, connection, fd

    def alive(self) -> bool:
        """Whether the claim still holds: on PostgreSQL, whether its connection still answers (a server
        restart ends the session and its lock). Release a lease that is not alive and take a new one."""
        if self._connection is None:
            return True
        try:
            self._connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001  # any failure means the session and its lock are gone
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                # Unlocked here, not left to the session's end: closing only sends a goodbye, and the server
                # would drop the lock a moment later, while a caller may claim it again at once. If the
                # connection is already broken, the lock went with the session.
                with contextlib.suppress(Exception):
                    self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
            finally:
                self._connection.close()
            self._connection = None
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


def try_lease(engine: Engine, name: str) -> Lease | None:
    """Claim `name` for this holder unless another one holds it (never waits): for work one process must do
    alone, such as following a chain."""
    if engine.dialect.name == "postgresql":
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"), {"name": f"ticketkit:{name}"}
            ).scalar()
        except Exception:  # any failure means the session and its lock are gone
            connection.close()
            raise
        if not held:
            connection.close()
            return None
        connection.detach()  # never back to the pool with the lock on it
        return Lease(name, connection=connection)
    path = _lock_path(engine, f"{name}.lock") if engine.dialect.name == "sqlite" else None
    if path is None:
        return Lease(name)
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return Lease(name, fd=fd)


def insert(dialect: str, table: Table) -> Insert | SqliteInsert:
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


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Table, for SQLAlchemy Core statements."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets it; its hints omit it
    return table


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE run through a Session matched: its result is a CursorResult (the
    Session's hints only promise a Result)."""
    assert isinstance(result, CursorResult)
    return result.rowcount
