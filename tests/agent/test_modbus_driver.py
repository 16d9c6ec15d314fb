"""The Modbus driver against the simulator: transports and error translation."""

import pytest

import device_profiles
from agent.config import DeviceConfig
from agent.errors import DeviceTimeout, ProtocolError, Unreachable
from agent.modbus.address import parse_address
from agent.modbus.driver import ModbusBus, ModbusDriver
from agent.profiles import load_profile
from tests.agent.harness import running, sim_config
from tests.support.servers import free_port

pytestmark = pytest.mark.integration
PANIC = load_profile(device_profiles.PROFILES_DIR / "one_click_alarm" / "generic-ykb100.yaml")


def _driver(address: str, unit_id: int = 1, timeout_s: float = 0.3) -> ModbusDriver:
    device = DeviceConfig(id="d", profile="one_click_alarm/generic-ykb100", address=address, unit_id=unit_id)
    return ModbusDriver(device, PANIC, ModbusBus(parse_address(device.address), timeout_s))


async def test_rtu_serial_client_through_a_serial_url() -> None:
    # The RTU serial client path, with pyserial's socket:// URL standing in for /dev/ttyUSB0.
    async with running(sim_config({"c": [("p1", "panic")]}, framer="rtu+tcp")) as sim:
        port = sim.devices["p1"].address.rsplit(":", 1)[1]
        driver = _driver(f"rtu:?url=socket://127.0.0.1:{port}&baudrate=9600")
        await sim.devices["p1"].act("press", {})
        values = await driver.poll()
        assert values["panic_input"] is True
        assert values["panic_latched"] is True
        driver.bus.close()


async def test_errors_are_translated_at_the_boundary() -> None:
    with pytest.raises(Unreachable):
        await _driver(f"tcp://127.0.0.1:{free_port()}").poll()
    async with running(sim_config({"bus": [("p1", "panic")]})) as sim:
        driver = _driver(sim.devices["p1"].address)
        assert (await driver.poll())["battery_v"] == pytest.approx(13.2)
        await sim.devices["p1"].act("answer_exceptions", {})
        with pytest.raises(ProtocolError, match="exception code 4"):
            await driver.poll()
        await sim.devices["p1"].act("go_silent", {})
        with pytest.raises(DeviceTimeout):
            await driver.poll()
        await sim.devices["p1"].act("recover", {})
        assert (await driver.poll())["panic_input"] is False
        driver.bus.close()
