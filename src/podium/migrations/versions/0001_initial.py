"""Runs, their transitions and the result cache.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)  # Unix seconds: double precision


def upgrade() -> None:
    op.create_table(
        "podium_runs",
        sa.Column("run_id", sa.String(128), primary_key=True),
        sa.Column("workflow", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("counts", sa.Text),  # JSON: tasks per state, once finished
        sa.Column("stats", sa.Text),  # JSON: RunResult.stats, once finished
        sa.Column("definition", sa.Text),  # JSON: what resume needs to rebuild the workflow
        sa.Column("owner", sa.Text),  # host:pid running it
        sa.Column("sessions", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("podium_runs_started_at", "podium_runs", ["started_at"])
    # One row per transition; a run's task states are rebuilt from them. The key is
    # (run_id, seq) and nothing else, so an append touches one B-tree (no rowid on SQLite).
    op.create_table(
        "podium_transitions",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("task_id", sa.Text),  # NULL for run-level events
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer),
        sa.Column("agent", sa.Text),
        sa.Column("started_at", _TIME),
        sa.Column("finished_at", _TIME),
        sa.Column("result", sa.Text),  # JSON
        sa.Column("error", sa.Text),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("run_id", "seq", name="podium_transitions_pk"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "podium_cache",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("result", sa.Text),  # JSON
        sa.Column("run_id", sa.String(128)),
        sa.Column("task_id", sa.Text),
        sa.Column("agent", sa.Text),
        sa.Column("created_at", _TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("podium_cache")
    op.drop_table("podium_transitions")
    op.drop_index("podium_runs_started_at", table_name="podium_runs")
    op.drop_table("podium_runs")
