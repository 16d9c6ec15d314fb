"""Response plans saved in the hub: per alarm kind, hub-wide, per district or per school.

Revision ID: 0013_response_plans
Revises: 0012_alarm_pictures
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_response_plans"
down_revision = "0012_alarm_pictures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "response_plans",
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("scope", "kind"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("response_plans")
