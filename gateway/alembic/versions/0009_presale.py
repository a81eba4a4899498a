"""presale: a tier's trusted-attendee rule and its Merkle snapshots

Revision ID: 0009
Revises: 0007 (0008 is a sibling branch on 0007; the app upgrades `heads`)
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "presale_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("min_events", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.Column("badge_event_ids", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "tier_id"),
    )
    op.create_table(
        "presale_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("root", S(length=66), nullable=False),
        sa.Column("badge_address", S(length=42), nullable=False),
        sa.Column("badge_event_ids", sa.Text(), nullable=False),
        sa.Column("min_events", sa.Integer(), nullable=False),
        sa.Column("addresses", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_presale_snapshots_event_id"), "presale_snapshots", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_presale_snapshots_event_id"), table_name="presale_snapshots")
    op.drop_table("presale_snapshots")
    op.drop_table("presale_rules")
