"""Alarm disposition: what an alarm turned out to be (真警, 误报, 设备故障, 演练, 测试, 其他).

Revision ID: 0009_alarm_disposition
Revises: 0008_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_alarm_disposition"
down_revision = "0008_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("disposition", sa.String(length=16), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("disposition")
