"""Online video patrol (网上巡查): plans, runs and their records (``hub.domain.patrol`` decides rounds)."""
