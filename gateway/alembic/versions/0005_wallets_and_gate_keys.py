"""fans' linked wallets (fan_accounts.wallet_address) and one-time wallet challenges

Gate keys need no schema change: api_keys already has `role` and `event_id`.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("fan_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wallet_address", S(length=42), nullable=True))
        batch_op.create_index(batch_op.f("ix_fan_accounts_wallet_address"), ["wallet_address"], unique=True)

    op.create_table(
        "wallet_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fan_id", sa.Uuid(), nullable=False),
        sa.Column("nonce", S(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fan_id"],
            ["fan_accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    with op.batch_alter_table("wallet_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_challenges_fan_id"), ["fan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wallet_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_challenges_fan_id"))
    op.drop_table("wallet_challenges")
    with op.batch_alter_table("fan_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fan_accounts_wallet_address"))
        batch_op.drop_column("wallet_address")
