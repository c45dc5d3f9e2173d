"""Per-call records (issue 15): one row per hook call, silent cards included.

Revision ID: issue15_call_record
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issue15_call_record"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_record",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("hook_instance", sa.String(200), nullable=False),
        sa.Column("hook", sa.String(40), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("fetch_ms", sa.Float(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("token_used", sa.Boolean(), nullable=False),
        sa.Column("fetched_keys", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("managed_grade", sa.Integer(), nullable=True),
        sa.Column("policy_version", sa.String(40), nullable=True),
        sa.Column("cards", sa.JSON(), nullable=False),
        sa.Column("withheld_cards", sa.JSON(), nullable=False),
        sa.Column("unrecognised_codes", sa.JSON(), nullable=False),
    )
    op.create_index("ix_call_record_hook_instance", "call_record", ["hook_instance"])
    op.create_index("ix_call_record_requested_at", "call_record", ["requested_at"])


def downgrade() -> None:
    op.drop_table("call_record")
