"""Alarms keep the display name of who acknowledged and who resolved them, as it was then.

Revision ID: 0016_alarm_actor_names
Revises: 0015_device_address
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_alarm_actor_names"
down_revision = "0015_device_address"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("acknowledged_by_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("resolved_by_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("resolved_by_name")
        batch.drop_column("acknowledged_by_name")
