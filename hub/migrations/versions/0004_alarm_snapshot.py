"""Alarm value and camera snapshot: what raised an alarm, and the JPEG its camera took.

Revision ID: 0004_alarm_snapshot
Revises: 0003_forwarding
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_alarm_snapshot"
down_revision = "0003_forwarding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("image_id", sa.String(length=100), nullable=True))
    op.create_table(
        "snapshots",
        sa.Column("image_id", sa.String(length=100), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("image_id", "school_id"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("snapshots")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_column("image_id")
        batch_op.drop_column("value")
