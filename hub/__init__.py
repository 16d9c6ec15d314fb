"""The hub: ingest from gateways, current state, liveness, the alarm ledger and the REST API."""

__version__ = "0.1.0"
