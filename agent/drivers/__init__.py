"""The explicit driver registry: a profile's ``driver:`` field picks one entry here.

Drivers import their protocol library lazily inside their module, and this registry imports a
driver module only when a device needs it, so a gateway without cameras never loads OpenCV.
"""

import importlib
from collections.abc import Callable
from typing import Any

from agent.drivers.base import Driver, DriverContext

# driver name -> "module:factory"; one line per driver.
DRIVERS: dict[str, str] = {
    "modbus": "agent.drivers.modbus:create",
    "camera": "agent.camera.driver:create",
}

# factory(device, profile, context, timeout_s) -> Driver
DriverFactory = Callable[..., Driver]


def driver_factory(name: str) -> DriverFactory:
    """The factory of a registered driver."""
    try:
        module_name, _, attr = DRIVERS[name].partition(":")
    except KeyError:
        raise KeyError(f"no driver {name!r}; known: {', '.join(sorted(DRIVERS))}") from None
    factory: Any = getattr(importlib.import_module(module_name), attr)
    return factory  # type: ignore[no-any-return]


__all__ = ["DRIVERS", "Driver", "DriverContext", "DriverFactory", "driver_factory"]
