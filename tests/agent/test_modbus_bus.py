"""A shared Modbus bus survives silent and late neighbours, on MBAP and on RTU framing.

What a real RS-485-to-Ethernet converter does is what these simulate: several units behind one TCP
connection, some dead, some answering after the poller gave up.
"""

import pytest

import device_profiles
from agent.config import DeviceConfig
from agent.errors import DeviceTimeout
from agent.modbus.address import parse_address
from agent.modbus.driver import RECV_MAX, BusPool, ModbusDriver
from agent.profiles import load_profile
from simulator.run import Simulator
from tests.agent.harness import running, sim_config

pytestmark = pytest.mark.integration
PANIC = load_profile(device_profiles.PROFILES_DIR / "one_click_alarm" / "generic-ykb100.yaml")
TIMEOUT_S = 0.2


def _drivers(sim: Simulator, pool: BusPool) -> dict[str, ModbusDriver]:
    drivers = {}
    for d in sim.devices.values():
        device = DeviceConfig(id=d.id, profile=d.profile.ref, address=d.address, unit_id=d.unit_id)
        drivers[d.id] = ModbusDriver(device, PANIC, pool.get(parse_address(device.address), TIMEOUT_S))
    return drivers


async def _poll_in_turn(driver: ModbusDriver) -> dict[str, object] | DeviceTimeout:
    """One poll the way the scheduler makes it: inside the device's turn on the bus."""
    assert driver.turn is not None
    async with driver.turn:
        try:
            return dict(await driver.poll())
        except DeviceTimeout as exc:
            return exc


@pytest.mark.parametrize("framer", ["tcp", "rtu+tcp"])
async def test_many_silent_units_do_not_drop_the_live_ones_connection(framer: str) -> None:
    # Six dead units polled back to back: pymodbus alone closes the shared connection after five
    # unanswered requests and never reopens it; the live unit must not notice.
    units = [("live", "panic")] + [(f"dead{i}", "panic") for i in range(6)]
    async with running(sim_config({"bus": units}, framer=framer)) as sim:
        for i in range(6):
            await sim.devices[f"dead{i}"].act("go_silent", {})
        pool = BusPool()
        drivers = _drivers(sim, pool)
        bus = drivers["live"].bus
        try:
            for _ in range(3):
                for i in range(6):
                    assert isinstance(await _poll_in_turn(drivers[f"dead{i}"]), DeviceTimeout)
                values = await _poll_in_turn(drivers["live"])
                assert isinstance(values, dict) and values["battery_v"] == pytest.approx(13.2)
            assert bus.connects == 1, "the live unit's connection was dropped for its silent neighbours"
            assert bus.reconnects == 0
        finally:
            pool.close()


async def test_a_bus_where_nobody_answers_reconnects() -> None:
    # A half-open converter looks like every unit going silent: after two chances each, reconnect.
    async with running(sim_config({"bus": [("a", "panic"), ("b", "panic")]})) as sim:
        pool = BusPool()
        drivers = _drivers(sim, pool)
        try:
            assert isinstance(await _poll_in_turn(drivers["a"]), dict)
            for device in sim.devices.values():
                await device.act("go_silent", {})
            for _ in range(2):
                for name in ("a", "b"):
                    assert isinstance(await _poll_in_turn(drivers[name]), DeviceTimeout)
            assert drivers["a"].bus.reconnects == 1
            for device in sim.devices.values():
                await device.act("recover", {})
            assert isinstance(await _poll_in_turn(drivers["b"]), dict)
            assert drivers["a"].bus.connects == 2
        finally:
            pool.close()


async def test_a_late_answer_on_rtu_is_never_taken_for_the_next_request() -> None:
    # RTU frames carry no transaction id: the slow unit's answer, arriving after its request timed
    # out, must not be read as the live unit's (or its own next) answer.
    async with running(sim_config({"bus": [("live", "panic"), ("slow", "panic")]}, framer="rtu+tcp")) as sim:
        await sim.devices["live"].act("press", {})  # the live box reads differently from the slow one
        await sim.devices["slow"].act("answer_late", {"delay_s": TIMEOUT_S * 1.5})
        pool = BusPool()
        drivers = _drivers(sim, pool)
        try:
            for _ in range(5):
                assert isinstance(await _poll_in_turn(drivers["slow"]), DeviceTimeout)
                values = await _poll_in_turn(drivers["live"])
                assert isinstance(values, dict), f"the live unit failed after a late neighbour: {values}"
                assert values["panic_latched"] is True and values["battery_v"] == pytest.approx(13.2)
        finally:
            pool.close()


async def test_a_bus_reads_its_socket_in_small_buffers_after_every_connect() -> None:
    # asyncio's default (256 KiB a recv) costs an mmap, mremap and munmap per answer; a pymodbus
    # release that moved its transport would silently bring that back, so this looks where it is.
    async with running(sim_config({"bus": [("p1", "panic")]})) as sim:
        pool = BusPool()
        driver = _drivers(sim, pool)["p1"]
        try:
            for _ in range(2):
                assert isinstance(await _poll_in_turn(driver), dict)
                assert driver.bus._client is not None
                assert driver.bus._client.ctx.transport.max_size == RECV_MAX  # type: ignore[attr-defined]
                driver.bus.close()  # the next poll connects again
        finally:
            pool.close()
