"""School profiles edited in the hub: one JSON document per school, with who saved it and when.

Revision ID: 0011_school_profiles
Revises: 0010_compliance_findings
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_school_profiles"
down_revision = "0010_compliance_findings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "school_profiles",
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("school_id"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("school_profiles")
