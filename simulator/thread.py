"""A simulator on an event loop of its own thread.

Real devices answer whatever the process polling them is doing. A simulator on the same event loop
as a busy hub answers late whenever the hub commits, and a device polled with a 0.1 s timeout then
looks like it failed: a harness artefact, not the product's behaviour. Tests that run a hub and a
simulator in one process use this.
"""

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from simulator.config import SimConfig
from simulator.devices import SimulatedDevice
from simulator.run import Simulator

T = TypeVar("T")
STOP_TIMEOUT_S = 10.0


class SimulatorThread:
    """A ``Simulator`` whose servers run on a background thread's event loop."""

    def __init__(self, config: SimConfig) -> None:
        self.simulator = Simulator(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulator", daemon=True)

    @property
    def devices(self) -> dict[str, SimulatedDevice]:
        """The simulated Modbus devices (read their addresses and state; act through ``act``)."""
        return self.simulator.devices

    @property
    def control_url(self) -> str:
        """Where the HTTP control interface listens."""
        return self.simulator.control_url

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def start(self) -> None:
        """Start the thread, then every server on it."""
        self._thread.start()
        await self._call(self.simulator.start())

    async def act(self, device: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply an action on the simulator's own loop."""
        return await self._call(self.simulator.devices[device].act(action, body or {}))

    async def stop(self) -> None:
        """Stop every server, then the loop and the thread. Safe before ``start`` and a second time: a
        test that failed before starting it must not wait forever on a loop that never ran."""
        if self._loop.is_closed():
            return
        if not self._thread.is_alive():
            self._loop.close()
            return
        try:
            await asyncio.wait_for(self._call(self.simulator.stop()), STOP_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, STOP_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()
