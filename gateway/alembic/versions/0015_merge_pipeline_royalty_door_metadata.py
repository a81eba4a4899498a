"""Merge the branches of 0010: the transaction outbox (0011), the resale royalty (0012), the door (0013) and
token metadata (0014), so that the history has one head again.

Revision ID: 0015
Revises: 0011, 0012, 0013, 0014
"""

revision = "0015"
down_revision = ("0011", "0012", "0013", "0014")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
