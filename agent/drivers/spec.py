"""A driver as one declaration (``DriverSpec``) and the registry of them.

A spec says everything the agent needs to know about a protocol before polling a device of it: the
model of its profile files, the device address schemes it serves and how to check an address, the
device settings only it uses, what it prepares for all its devices, and where its factory is. The
factory's module is imported only when a device needs it, so a gateway without cameras never loads
OpenCV. ``agent/drivers/__init__.py`` registers the bundled drivers, one line each; a driver of
one's own is one more ``register`` call (docs/adding-a-protocol.md).
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from agent.drivers.base import Driver, DriverContext

if TYPE_CHECKING:
    from agent.config import AgentConfig

# factory(device, profile, context, timeout_s) -> Driver
DriverFactory = Callable[..., Driver]


@dataclass(frozen=True)
class DriverSpec:
    """One protocol: its profile model, its addresses and settings, and its factory."""

    name: str  # the profile's ``driver:`` value
    profile: type[BaseModel]  # validates its profile files; has ``driver: Literal[name]``
    schemes: tuple[str, ...]  # device address schemes (``tcp`` in tcp://...)
    check_address: Callable[[str], None]  # raises ValueError saying what is wrong with an address
    create: str  # "module:function": the factory, imported when a device needs it
    device_fields: frozenset[str] = field(default_factory=frozenset)  # DeviceConfig fields only it uses
    prepare: "Callable[[AgentConfig, DriverContext], None] | None" = None  # once, before its devices

    def factory(self) -> DriverFactory:
        """Import the factory."""
        module_name, _, attr = self.create.partition(":")
        found: Any = getattr(importlib.import_module(module_name), attr)
        return found  # type: ignore[no-any-return]


_SPECS: dict[str, DriverSpec] = {}


def register(spec: DriverSpec) -> DriverSpec:
    """Add a driver; a name or address scheme another driver has is refused."""
    if spec.name in _SPECS:
        raise ValueError(f"a driver named {spec.name!r} is registered already")
    taken = {scheme: other.name for other in _SPECS.values() for scheme in other.schemes}
    for scheme in spec.schemes:
        if scheme in taken:
            raise ValueError(f"address scheme {scheme}:// belongs to the {taken[scheme]} driver")
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a driver (tests)."""
    _SPECS.pop(name, None)


def specs() -> tuple[DriverSpec, ...]:
    """The registered drivers, in registration order."""
    return tuple(_SPECS.values())


def spec_named(name: str) -> DriverSpec:
    """The driver a profile names."""
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"no driver {name!r}; known: {', '.join(sorted(_SPECS))}") from None


def spec_for_address(address: str) -> DriverSpec:
    """The driver that serves a device address; ValueError naming the schemes known."""
    scheme = urlsplit(address).scheme
    for spec in _SPECS.values():
        if scheme in spec.schemes:
            return spec
    known = ", ".join(f"{s}://" for spec in _SPECS.values() for s in spec.schemes)
    raise ValueError(f"{address!r}: use one of {known}")


def driver_factory(name: str) -> DriverFactory:
    """The factory of a registered driver."""
    return spec_named(name).factory()


def public_address(address: str) -> str:
    """The address without what may be secret (user, password, query): what the hub may show IT staff."""
    try:
        parts = urlsplit(address)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    if not parts.scheme:
        return ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path}"[:200]
