"""Monthly reports: ``campusguard report``, ``GET /api/v1/reports/monthly`` and the console (docs/reports.md)."""
