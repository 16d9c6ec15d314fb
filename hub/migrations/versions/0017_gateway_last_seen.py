"""Gateways keep when they were last heard, their last heartbeat and spool, and devices their firmware
and fault class, written by the hub that holds them, so every hub (several on one PostgreSQL) shows
and judges them alike.

Revision ID: 0017_gateway_last_seen
Revises: 0016_alarm_actor_names
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_gateway_last_seen"
down_revision = "0016_alarm_actor_names"
branch_labels = None
depends_on = None
COLUMNS = ("last_seen_at", "last_heartbeat_at", "publish_lag_s", "spool_pending", "spool_failing")


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("publish_lag_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("spool_pending", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("spool_failing", sa.Boolean(), nullable=True))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("firmware", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("fault", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("fault")
        batch.drop_column("firmware")
    with op.batch_alter_table("gateways") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
