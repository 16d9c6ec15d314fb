"""Pictures taken for an alarm: a snapshot may belong to the alarm it was captured for.

Revision ID: 0012_alarm_pictures
Revises: 0011_school_profiles
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_alarm_pictures"
down_revision = "0011_school_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("alarm_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_snapshots_alarm_id", ["alarm_id"])


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_index("ix_snapshots_alarm_id")
        batch.drop_column("alarm_id")
