"""the door: an event's entry policy and pass details (event_doors), a ticket's place (ticket_places), entries
and exits after the first admission (gate_entries, unique per ticket and slot); the timestamps that snapshot
deltas look up (device_keys created/revoked, gate_admissions admitted) indexed

Revision ID: 0013
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "event_doors",
        sa.Column("entry_policy", S(length=16), nullable=False),
        sa.Column("timezone", S(length=64), nullable=False),
        sa.Column("venue", S(length=200), nullable=True),
        sa.Column("starts_at", UTC(), nullable=True),
        sa.Column("doors_at", UTC(), nullable=True),
        sa.Column("offline_unlisted", S(length=16), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("entry_days", sa.Text(), nullable=False),
        sa.Column("tier_policies", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "ticket_places",
        sa.Column("section", S(length=50), nullable=True),
        sa.Column("row", S(length=20), nullable=True),
        sa.Column("seat", S(length=20), nullable=True),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "gate_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("slot", S(length=32), nullable=False),
        sa.Column("direction", S(length=8), nullable=False),
        sa.Column("gate_key_id", sa.Uuid(), nullable=False),
        sa.Column("device", S(length=100), nullable=True),
        sa.Column("source", S(length=16), nullable=False),
        sa.Column("nonce", S(length=64), nullable=True),
        sa.Column("scanned_at", UTC(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["gate_key_id"],
            ["api_keys.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "slot"),
    )
    with op.batch_alter_table("gate_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_entries_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_gate_entries_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_keys_revoked_at"), ["revoked_at"], unique=False)
    with op.batch_alter_table("gate_admissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_admissions_admitted_at"), ["admitted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gate_admissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_admissions_admitted_at"))
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_keys_revoked_at"))
        batch_op.drop_index(batch_op.f("ix_device_keys_created_at"))
    with op.batch_alter_table("gate_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_entries_created_at"))
        batch_op.drop_index(batch_op.f("ix_gate_entries_event_id"))
    op.drop_table("gate_entries")
    op.drop_table("ticket_places")
    op.drop_table("event_doors")
