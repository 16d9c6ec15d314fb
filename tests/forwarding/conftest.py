"""Forwarding fixtures: the hub tests' PostgreSQL and per-test database URLs (SQLite and PostgreSQL)."""

from tests.hub.conftest import db_url, postgres

__all__ = ["db_url", "postgres"]
