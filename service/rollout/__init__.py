"""Switching the service on at a site: silent phase, per-call records, reports, code mapping, policy review.

docs/go-live.md is the walk-through an informatics team follows.
"""
