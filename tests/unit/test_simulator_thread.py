"""The simulator thread's stop must end whatever happened before it: a test that failed before
starting its simulator waited forever in ``stop`` (a loop that never ran cannot answer) until
pytest-timeout fired, and the CI run then hung until its own limit (issue 15's last run)."""

import asyncio
import socket
from urllib.parse import urlsplit

from simulator.thread import SimulatorThread
from tests.hub.support import sim_config


def accepts(address: str) -> bool:
    parts = urlsplit(address)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return False
    return True


async def test_stop_before_start_returns_at_once() -> None:
    sim = SimulatorThread(sim_config([("panic-1", "panic")]))
    await asyncio.wait_for(sim.stop(), 2)
    await asyncio.wait_for(sim.stop(), 2)  # and a second time


async def test_stop_after_start_ends_the_thread_and_the_device_s_port_and_stopping_again_is_harmless() -> None:
    sim = SimulatorThread(sim_config([("panic-1", "panic")]))
    await sim.start()
    assert sim._thread.is_alive()
    await asyncio.wait_for(sim.stop(), 10)
    assert not sim._thread.is_alive()
    assert not accepts(sim.devices["panic-1"].address)
    await asyncio.wait_for(sim.stop(), 2)
