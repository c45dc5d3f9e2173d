"""Audit, issued cards and feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hook_instance", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("patient_ref", sa.String(100), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("managed_grade", sa.Integer(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("card_uuids", sa.JSON(), nullable=False),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(40), nullable=False),
        sa.Column("fetched_keys", sa.JSON(), nullable=False),
        sa.Column("fetch_ms", sa.Float(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
    )
    op.create_index("ix_audit_created_at", "audit", ["created_at"])
    op.create_index("ix_audit_hook_instance", "audit", ["hook_instance"])
    op.create_table(
        "issued_card",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hook_instance", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("indicator", sa.String(10), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=False),
    )
    op.create_index("ix_issued_card_kind", "issued_card", ["kind"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("outcome_timestamp", sa.String(64), nullable=True),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("override_system", sa.String(300), nullable=True),
        sa.Column("override_code", sa.String(200), nullable=True),
        sa.Column("override_display", sa.String(300), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("issued_card")
    op.drop_table("audit")
