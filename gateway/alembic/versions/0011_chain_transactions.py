"""the one transaction pipeline's outbox (chain_transactions) replaces the operator nonce table: every
operator transaction is recorded with its write, then signed, sent, replaced and confirmed by one worker per
sender

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "chain_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("sender", S(length=42), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("to", S(length=42), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("value", S(length=78), nullable=False),
        sa.Column("gas", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.Integer(), nullable=True),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("attempts", sa.Text(), nullable=False),
        sa.Column("mined_hash", S(length=66), nullable=True),
        sa.Column("mined_block", sa.Integer(), nullable=True),
        sa.Column("mined_block_hash", S(length=66), nullable=True),
        sa.Column("gas_used", sa.Integer(), nullable=True),
        sa.Column("effective_gas_price", S(length=78), nullable=True),
        sa.Column("waiting", S(length=300), nullable=True),
        sa.Column("error", S(length=300), nullable=True),
        sa.Column("reorgs", sa.Integer(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_transactions_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_transactions_status"), ["status"], unique=False)
    op.drop_table("operator_nonces")


def downgrade() -> None:
    op.create_table(
        "operator_nonces",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("address", S(length=42), nullable=False),
        sa.Column("next_nonce", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address"),
    )
    with op.batch_alter_table("chain_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_transactions_status"))
        batch_op.drop_index(batch_op.f("ix_chain_transactions_record_id"))
    op.drop_table("chain_transactions")
