"""Notifications: each alarm, at the escalation levels a rule names, to people (docs/notifications.md)."""
