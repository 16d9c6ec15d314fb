"""Drivers: what each offers the scheduler (``base``), the declaration of one (``spec``) and the
registry of the bundled ones (``registry``)."""

from agent.drivers.base import Driver, DriverContext

__all__ = ["Driver", "DriverContext"]
