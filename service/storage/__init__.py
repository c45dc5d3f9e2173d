"""Persistence: audit of hook calls, issued cards, feedback (SQLAlchemy 2, Alembic migrations)."""
