"""indexer records: check-ins and attendance badges

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("contract", S(length=42), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("holder", S(length=42), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("tx_hash", S(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index"),
    )
    op.create_index(op.f("ix_checkins_event_id"), "checkins", ["event_id"], unique=False)
    op.create_index("ix_checkins_block", "checkins", ["chain_id", "block_number"], unique=False)
    op.create_table(
        "badges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("contract", S(length=42), nullable=False),
        sa.Column("token_id", S(length=78), nullable=False),
        sa.Column("holder", S(length=42), nullable=False),
        sa.Column("fan_id", sa.Uuid(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["fan_id"],
            ["fan_accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "contract", "token_id"),
    )
    op.create_index(op.f("ix_badges_event_id"), "badges", ["event_id"], unique=False)
    op.create_index(op.f("ix_badges_fan_id"), "badges", ["fan_id"], unique=False)
    op.create_index("ix_badges_block", "badges", ["chain_id", "block_number"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_badges_block", table_name="badges")
    op.drop_index(op.f("ix_badges_fan_id"), table_name="badges")
    op.drop_index(op.f("ix_badges_event_id"), table_name="badges")
    op.drop_table("badges")
    op.drop_index("ix_checkins_block", table_name="checkins")
    op.drop_index(op.f("ix_checkins_event_id"), table_name="checkins")
    op.drop_table("checkins")
