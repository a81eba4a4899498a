"""operator nonces allocated through the database (shared by every gateway process)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "operator_nonces",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("address", S(length=42), nullable=False),
        sa.Column("next_nonce", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("operator_nonces")
