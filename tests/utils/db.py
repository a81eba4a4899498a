"""Databases for the gateway's tests: fresh PostgreSQL databases, rows read back, sessions aged."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from sqlalchemy import update
from sqlmodel import Session, select

from gateway.models import FanSession, utcnow

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


def rows(app, model, *where):
    """The rows of `model` matching `where`, from the app's database."""
    with Session(app.state.runtime.engine) as session:
        return list(session.exec(select(model).where(*where)))


def age_fan_sessions(engine, fan_id: str, days: float) -> None:
    """Move a fan's sessions `days` into the past, as if unused since."""
    then = utcnow() - timedelta(days=days)
    with Session(engine) as session:
        session.execute(
            update(FanSession)
            .where(FanSession.fan_id == uuid.UUID(fan_id))
            .values(created_at=then, last_used_at=then)
        )
        session.commit()
