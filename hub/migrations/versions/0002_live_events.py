"""Live events: the SSE stream's changes, kept for Last-Event-ID replay across hub restarts.

Revision ID: 0002_live_events
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_live_events"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "live_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.create_index("ix_live_events_at", ["at"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.drop_index("ix_live_events_at")
    op.drop_table("live_events")
