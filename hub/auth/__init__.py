"""Accounts: users with roles scoped to schools or a district, sessions, CSRF, API tokens, audit.

Modules: ``models`` (tables), ``passwords`` (argon2), ``roles`` (what a role may do, and where),
``sessions`` and ``tokens`` (how a caller proves who it is), ``csrf``, ``ratelimit`` (failed logins),
``audit`` (who did what), ``users`` (account management for the API and the CLI), ``principal``
(turning a request into a caller), ``routes`` (HTTP) and ``cli`` (``campusguard hub user|token``).
"""
