"""Merge the indexer (0002) and resale settlement (0003) branches.

Revision ID: 0004
Revises: 0002, 0003
"""

revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
