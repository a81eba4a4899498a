"""the gate: device keys, admissions (the check-in record and the queue to the chain), check-in batches,
offline conflicts, refused scans; api_keys.label (a gate's name)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label", S(length=100), nullable=True))

    op.create_table(
        "device_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("public_key", S(length=100), nullable=False),
        sa.Column("holder", S(length=42), nullable=False),
        sa.Column("bound_by", S(length=16), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("revoked_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "checkin_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("token_ids", sa.Text(), nullable=False),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("tx_hash", S(length=66), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("error", S(length=200), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("done_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_batches_event_id"), ["event_id"], unique=False)

    op.create_table(
        "gate_admissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("gate_key_id", sa.Uuid(), nullable=False),
        sa.Column("device", S(length=100), nullable=True),
        sa.Column("source", S(length=16), nullable=False),
        sa.Column("nonce", S(length=64), nullable=True),
        sa.Column("scanned_at", UTC(), nullable=False),
        sa.Column("admitted_at", UTC(), nullable=False),
        sa.Column("chain_status", S(length=16), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["checkin_batches.id"],
        ),
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
        sa.UniqueConstraint("ticket_id"),
    )
    with op.batch_alter_table("gate_admissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_admissions_chain_status"), ["chain_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_gate_admissions_event_id"), ["event_id"], unique=False)

    op.create_table(
        "gate_conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("admission_id", sa.Uuid(), nullable=False),
        sa.Column("gate_key_id", sa.Uuid(), nullable=False),
        sa.Column("device", S(length=100), nullable=False),
        sa.Column("scanned_at", UTC(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["admission_id"],
            ["gate_admissions.id"],
        ),
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
        sa.UniqueConstraint("ticket_id", "gate_key_id", "device", "scanned_at"),
    )
    with op.batch_alter_table("gate_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_conflicts_event_id"), ["event_id"], unique=False)

    op.create_table(
        "gate_refusals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("gate_key_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("reason", S(length=32), nullable=False),
        sa.Column("device", S(length=100), nullable=True),
        sa.Column("source", S(length=16), nullable=False),
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
    )
    with op.batch_alter_table("gate_refusals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_refusals_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ("gate_refusals", ("ix_gate_refusals_event_id",)),
        ("gate_conflicts", ("ix_gate_conflicts_event_id",)),
        ("gate_admissions", ("ix_gate_admissions_event_id", "ix_gate_admissions_chain_status")),
        ("checkin_batches", ("ix_checkin_batches_event_id",)),
        ("device_keys", ("ix_device_keys_ticket_id",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("label")
