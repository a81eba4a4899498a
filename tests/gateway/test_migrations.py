"""The Alembic migrations build exactly the schema the models describe (on SQLite and PostgreSQL)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import gateway.indexer.models  # noqa: F401  # registers the indexer's tables
from gateway import models  # noqa: F401  # registers the tables


def test_migrated_schema_equals_the_models(app):
    # The `app` fixture has run `alembic upgrade heads` on a fresh database.
    with app.state.runtime.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
