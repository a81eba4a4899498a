"""resale settlements record the royalty owed to the organiser (ERC-2981 on the declared price)

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("resale_settlements") as batch:
        batch.add_column(sa.Column("royalty_wei", S(length=80), nullable=True))
        batch.add_column(sa.Column("royalty_receiver", S(length=42), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resale_settlements") as batch:
        batch.drop_column("royalty_receiver")
        batch.drop_column("royalty_wei")
