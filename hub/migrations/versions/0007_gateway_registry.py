"""Gateway registry: the gateways allowed on the broker, with mosquitto's hash of their passwords.

Revision ID: 0007_gateway_registry
Revises: 0006_alarm_reconcile
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_gateway_registry"
down_revision = "0006_alarm_reconcile"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "gateway_credentials",
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("rotated_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("school_id", "gateway_id"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("gateway_credentials")
