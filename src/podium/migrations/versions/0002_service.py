"""What `podium serve` keeps: API keys, idempotency keys, server-registered agents, and the
lease by which one server of many owns a run.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TIME = sa.Float(precision=53)  # Unix seconds: double precision


def upgrade() -> None:
    # the server that owns a running run renews this; another takes the run over once it passes
    op.add_column("podium_runs", sa.Column("lease_expires", _TIME))
    # set by any server, acted on by the run's owner
    op.add_column(
        "podium_runs",
        sa.Column("cancel_requested", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "podium_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hash", sa.Text, nullable=False),  # scrypt$n$r$p$salt$digest, never the key
        sa.Column("rate_limit", _TIME),  # requests per second; NULL: the server's default
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME),
    )
    op.create_table(
        "podium_idempotency",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
    )
    op.create_table(
        "podium_agents",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),  # JSON: the agent as registered
        sa.Column("created_at", _TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("podium_agents")
    op.drop_table("podium_idempotency")
    op.drop_table("podium_keys")
    with op.batch_alter_table("podium_runs") as batch:
        batch.drop_column("cancel_requested")
        batch.drop_column("lease_expires")
