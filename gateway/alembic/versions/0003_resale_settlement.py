"""resale settlement; signed transactions on record before they are sent

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("issuances", "transfers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("raw_tx", sa.Text(), nullable=True))
    op.create_table(
        "resale_settlements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("seller_fan_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_fan_id", sa.Uuid(), nullable=False),
        sa.Column("price_wei", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("payment_reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("tx_hash", sqlmodel.sql.sqltypes.AutoString(length=66), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_fan_id"],
            ["fan_accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["resale_listings.id"],
        ),
        sa.ForeignKeyConstraint(
            ["seller_fan_id"],
            ["fan_accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("buyer_fan_id", "idempotency_key"),
        sa.UniqueConstraint("listing_id"),
    )
    with op.batch_alter_table("resale_settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resale_settlements_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resale_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resale_settlements_ticket_id"))
    op.drop_table("resale_settlements")
    for table in ("transfers", "issuances"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("raw_tx")
