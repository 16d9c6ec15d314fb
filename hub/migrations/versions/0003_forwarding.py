"""Forwarding outbox: outbox rows, delivery attempts, device zone numbers.

Revision ID: 0003_forwarding
Revises: 0002_live_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_forwarding"
down_revision = "0002_live_events"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "forward_outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("restore", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=16), nullable=True),
        sa.Column("area", sa.Integer(), nullable=False),
        sa.Column("zone", sa.Integer(), nullable=False),
        sa.Column("cid", sa.Integer(), nullable=False),
        sa.Column("sia", sa.String(length=2), nullable=False),
        sa.Column("event_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("delivered_to", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alarm_id", "route", "restore", name="uq_forward_outbox_alarm_route"),
    )
    with op.batch_alter_table("forward_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_forward_outbox_alarm_id", ["alarm_id"], unique=False)
        batch_op.create_index("ix_forward_outbox_route_state", ["route", "state", "id"], unique=False)
    op.create_table(
        "forward_attempts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("outbox_id", BIG_ID, nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("hub", sa.String(length=64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("rtt_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("forward_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_forward_attempts_outbox_id", ["outbox_id"], unique=False)
    op.create_table(
        "forward_device_numbers",
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("school_id", "device_id"),
        sa.UniqueConstraint("school_id", "number", name="uq_forward_device_number"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("forward_device_numbers")
    with op.batch_alter_table("forward_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_forward_attempts_outbox_id")
    op.drop_table("forward_attempts")
    with op.batch_alter_table("forward_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_forward_outbox_route_state")
        batch_op.drop_index("ix_forward_outbox_alarm_id")
    op.drop_table("forward_outbox")
