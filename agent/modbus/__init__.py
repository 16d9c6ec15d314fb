"""Modbus TCP, RTU over TCP and RTU serial. This module declares the driver (``SPEC``); its code,
the only code that imports pymodbus, is in ``agent.modbus.driver``."""

from agent.drivers.spec import DriverSpec
from agent.modbus.address import parse_address
from agent.modbus.profile import ModbusProfile


def _check_address(address: str) -> None:
    parse_address(address)


SPEC = DriverSpec(
    name="modbus",
    profile=ModbusProfile,
    schemes=("tcp", "rtu+tcp", "rtu"),
    check_address=_check_address,
    create="agent.modbus.driver:create",
    device_fields=frozenset({"unit_id"}),
)
