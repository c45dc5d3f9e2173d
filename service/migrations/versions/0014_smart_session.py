"""Server-side SMART sessions of the CRS timeline (issue 14).

Revision ID: 0014
Revises: issue15_call_record
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "issue15_call_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_session",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("iss", sa.String(1000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(100), nullable=True),
        sa.Column("code_verifier", sa.String(200), nullable=True),
        sa.Column("token_endpoint", sa.String(1000), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("patient", sa.String(64), nullable=True),
    )
    op.create_index("ix_smart_session_expires_at", "smart_session", ["expires_at"])


def downgrade() -> None:
    op.drop_table("smart_session")
