"""The hub's decisions as pure code: typed records in, typed records and effects out.

Nothing here touches a database, the network, files or the clock (``now`` is passed in), and nothing
here imports another hub package (tests/unit/test_domain_purity.py); the store, the API and ingest
call in and write out what was decided.
"""
