"""The driver registry: the bundled drivers, one line each (``agent.drivers.spec``)."""

from agent.camera import SPEC as CAMERA
from agent.drivers.spec import DriverFactory, DriverSpec, driver_factory, register, spec_for_address, specs
from agent.modbus import SPEC as MODBUS

register(MODBUS)
register(CAMERA)

__all__ = ["DriverFactory", "DriverSpec", "driver_factory", "register", "spec_for_address", "specs"]
