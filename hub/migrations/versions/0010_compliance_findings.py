"""Compliance findings: each verdict with when it began and ended, and a failure's repair deadline.

Revision ID: 0010_compliance_findings
Revises: 0009_alarm_disposition
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_compliance_findings"
down_revision = "0009_alarm_disposition"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "compliance_findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("missing", sa.Text(), nullable=False),
        sa.Column("since", TS, nullable=False),
        sa.Column("until", TS, nullable=True),
        sa.Column("deadline", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_compliance_findings_open", "compliance_findings", ["school_id", "until"])
    op.create_index("ix_compliance_findings_key", "compliance_findings", ["school_id", "rule_id", "subject", "since"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_compliance_findings_key", table_name="compliance_findings")
    op.drop_index("ix_compliance_findings_open", table_name="compliance_findings")
    op.drop_table("compliance_findings")
