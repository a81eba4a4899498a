"""Engine, sessions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, event
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, create_engine

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
