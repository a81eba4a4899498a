"""A fresh PostgreSQL database on the machine's server (127.0.0.1:5432, trust), for the gateway's tests and
the chaos benchmark."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_pg_database(prefix: str = "ticketkit_test") -> Iterator[str]:
    """An empty PostgreSQL database for the block (dropped after); its SQLAlchemy URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
