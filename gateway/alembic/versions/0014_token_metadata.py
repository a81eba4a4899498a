"""token metadata: an event's public details (venue, time zone, description) and the organiser's art

Revision ID: 0014
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "event_details",
        sa.Column("venue", S(length=200), nullable=True),
        sa.Column("timezone", S(length=64), nullable=False),
        sa.Column("description", S(length=1000), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "event_art",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("scope", S(length=16), nullable=False),
        sa.Column("content_type", S(length=32), nullable=False),
        sa.Column("sha256", S(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "scope"),
    )
    op.create_index(op.f("ix_event_art_sha256"), "event_art", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_event_art_sha256"), table_name="event_art")
    op.drop_table("event_art")
    op.drop_table("event_details")
