"""Devices keep the address their agent polls them at (without credentials), for IT staff.

Revision ID: 0015_device_address
Revises: 0014_video_patrol
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_device_address"
down_revision = "0014_video_patrol"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("address", sa.String(length=200), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("address")
