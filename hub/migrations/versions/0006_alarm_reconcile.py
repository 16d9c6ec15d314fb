"""Alarms reconciled with agents (raising seq, hub receive time, why it ended, how found); dead letters.

Sequence numbers become 64-bit (the contract allows up to 2^63-1; PostgreSQL's INTEGER is 32-bit).

Revision ID: 0006_alarm_reconcile
Revises: 0005_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_alarm_reconcile"
down_revision = "0005_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raised_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("detected", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_alarms_state_received", ["state", "received_at"])
        batch_op.create_index("ix_alarms_state_next_escalation", ["state", "next_escalation_at"])
    op.execute("UPDATE alarms SET received_at = raised_at WHERE received_at IS NULL")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("seq", type_=sa.BigInteger(), existing_type=sa.Integer())
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.alter_column("last_seq", type_=sa.BigInteger(), existing_type=sa.Integer())
    with op.batch_alter_table("forward_device_numbers", schema=None) as batch_op:
        batch_op.alter_column("device_id", type_=sa.String(length=80), existing_type=sa.String(length=64))
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dead_letters_received", "dead_letters", ["received_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_dead_letters_received", table_name="dead_letters")
    op.drop_table("dead_letters")
    with op.batch_alter_table("forward_device_numbers", schema=None) as batch_op:
        batch_op.alter_column("device_id", type_=sa.String(length=64), existing_type=sa.String(length=80))
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.alter_column("last_seq", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("seq", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_state_next_escalation")
        batch_op.drop_index("ix_alarms_state_received")
        batch_op.drop_column("next_escalation_at")
        batch_op.drop_column("detected")
        batch_op.drop_column("ended_by")
        batch_op.drop_column("received_at")
        batch_op.drop_column("raised_seq")
