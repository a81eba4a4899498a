"""fan account recovery codes and session last use (idle sessions expire); merges the gate and presale heads

Revision ID: 0010
Revises: 0008, 0009
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = ("0008", "0009")
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("fan_accounts") as batch:
        batch.add_column(sa.Column("recovery_hash", S(length=64), nullable=True))
    with op.batch_alter_table("fan_sessions") as batch:
        batch.add_column(sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fan_sessions") as batch:
        batch.drop_column("last_used_at")
    with op.batch_alter_table("fan_accounts") as batch:
        batch.drop_column("recovery_hash")
