"""Simulated school devices for tests and the demo: pymodbus servers plus an HTTP control interface."""
