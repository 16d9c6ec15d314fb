"""What every driver offers the scheduler: connect, poll, close. The scheduler owns time."""

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from agent.registers import Value


class Driver(Protocol):
    """A device adapter. It translates its library's errors into agent.errors at the boundary."""

    requests_per_poll: int
    # Not None (the Modbus bus): polled at the phase shared by bus devices, back to back with the
    # others of its group; None: the device gets a phase of its own.
    schedule_group: str | None
    # Held around each poll when not None (the bus lock); the wait for it is not part of the poll's
    # deadline, so devices queued behind a neighbour's timeout are not failed for it.
    turn: AbstractAsyncContextManager[Any] | None

    async def connect(self) -> None:
        """Open what the device needs; idempotent. Raise a RetryableError when it cannot."""

    async def poll(self) -> dict[str, Value]:
        """Read the device once and return its point values."""

    async def close(self) -> None:
        """Release what connect opened."""


class Shared(Protocol):
    """A resource several devices of one driver share, such as a Modbus bus pool."""

    def close(self) -> None:
        """Release the resource."""


class DriverContext:
    """What a driver factory gets besides its device and profile."""

    def __init__(self) -> None:
        self.shared: dict[str, Shared] = {}

    def close(self) -> None:
        """Close every shared resource."""
        for resource in self.shared.values():
            resource.close()
        self.shared.clear()
