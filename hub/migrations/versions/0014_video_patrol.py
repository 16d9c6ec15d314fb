"""Online video patrol: plans, runs and the checks of each camera.

Revision ID: 0014_video_patrol
Revises: 0013_response_plans
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_video_patrol"
down_revision = "0013_response_plans"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "patrol_plans",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("end", sa.String(length=5), nullable=False),
        sa.Column("every_min", sa.Integer(), nullable=False),
        sa.Column("grace_min", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("owed_from", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
    )
    op.create_table(
        "patrol_runs",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("plan_name", sa.String(length=80), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("officer_name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("problems", sa.Integer(), nullable=False),
    )
    op.create_index("ix_patrol_runs_plan", "patrol_runs", ["plan_id", "started_at"])
    op.create_index("ix_patrol_runs_started", "patrol_runs", ["started_at"])
    op.create_table(
        "patrol_checks",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("checked_at", WHEN, nullable=False),
        sa.Column("alarm_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "school_id", "device_id"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("patrol_checks")
    op.drop_index("ix_patrol_runs_started", table_name="patrol_runs")
    op.drop_index("ix_patrol_runs_plan", table_name="patrol_runs")
    op.drop_table("patrol_runs")
    op.drop_table("patrol_plans")
