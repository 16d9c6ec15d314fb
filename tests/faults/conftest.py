"""Fault tests run against both hub databases, with the hub tests' servers."""

from tests.hub.conftest import db_url, postgres

__all__ = ["db_url", "postgres"]
