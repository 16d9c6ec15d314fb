"""Notifications: one row per alarm, rule and channel, with what became of it.

Revision ID: 0008_notifications
Revises: 0007_gateway_registry
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_notifications"
down_revision = "0007_gateway_registry"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.String(length=64), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alarm_id", "rule", "channel", name="uq_notification"),
    )
    op.create_index("ix_notifications_alarm_id", "notifications", ["alarm_id"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_notifications_alarm_id", table_name="notifications")
    op.drop_table("notifications")
