"""chain indexer: cursor, recent block hashes, watched contracts, chain events, indexed tokens

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "indexer_cursors",
        sa.Column("chain_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("block_hash", S(length=66), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "indexer_blocks",
        sa.Column("chain_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_hash", S(length=66), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number"),
    )
    op.create_table(
        "indexer_contracts",
        sa.Column("chain_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("address", S(length=42), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("indexed_to", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("chain_id", "address"),
    )
    op.create_table(
        "chain_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("block_hash", S(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", S(length=66), nullable=False),
        sa.Column("contract", S(length=42), nullable=False),
        sa.Column("name", S(length=32), nullable=False),
        sa.Column("token_id", S(length=78), nullable=True),
        sa.Column("from_address", S(length=42), nullable=True),
        sa.Column("to_address", S(length=42), nullable=True),
        sa.Column("price_wei", S(length=80), nullable=True),
        sa.Column("tier_id", sa.Integer(), nullable=True),
        sa.Column("args", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index"),
    )
    op.create_index(
        "ix_chain_events_token", "chain_events", ["chain_id", "contract", "token_id"], unique=False
    )
    op.create_index("ix_chain_events_block", "chain_events", ["chain_id", "block_number"], unique=False)
    op.create_table(
        "indexed_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("contract", S(length=42), nullable=False),
        sa.Column("token_id", S(length=78), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=True),
        sa.Column("owner", S(length=42), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("burned", sa.Boolean(), nullable=False),
        sa.Column("listed_by", S(length=42), nullable=True),
        sa.Column("listed_price_wei", S(length=80), nullable=True),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "contract", "token_id"),
    )


def downgrade() -> None:
    op.drop_table("indexed_tokens")
    op.drop_index("ix_chain_events_block", table_name="chain_events")
    op.drop_index("ix_chain_events_token", table_name="chain_events")
    op.drop_table("chain_events")
    op.drop_table("indexer_contracts")
    op.drop_table("indexer_blocks")
    op.drop_table("indexer_cursors")
