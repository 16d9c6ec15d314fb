"""Alarm forwarding to receiving centres: rules, a durable outbox, SIA DC-09 and signed webhooks."""
