"""Modbus TCP, RTU over TCP and RTU serial, through pymodbus 3.16 (the only module importing it).

Devices on one bus (same TCP endpoint or serial port) share one client: pymodbus serializes requests
on a client with a lock, as an RS-485 bus must. Requests use ``retries=0`` and a short timeout so a
dead device costs its neighbours one timeout per attempt, and the scheduler's backoff spaces those.
"""

import asyncio
import logging

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse

from agent.config import DeviceConfig, ModbusAddress
from agent.drivers.base import DriverContext
from agent.errors import Busy, DeviceTimeout, ProtocolError, Unreachable
from agent.profiles import LoadedProfile
from agent.registers import ReadBlock, Value, decode_points, plan_reads

log = logging.getLogger(__name__)

Client = AsyncModbusTcpClient | AsyncModbusSerialClient

# Modbus exception codes that mean something other than "the device rejected the request".
_EXCEPTION_ERRORS = {
    0x06: (Busy, "device busy"),
    0x0A: (Unreachable, "gateway path unavailable"),
    0x0B: (DeviceTimeout, "gateway target did not respond"),
}


class ModbusBus:
    """One connection shared by the devices behind it."""

    def __init__(self, address: ModbusAddress, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._client: Client | None = None
        self._connect_lock = asyncio.Lock()
        self.turn = asyncio.Lock()  # one device's poll at a time; waited for outside its deadline

    def _make_client(self) -> Client:
        a = self.address
        common = {"timeout": self.timeout_s, "retries": 0, "reconnect_delay": 0, "reconnect_delay_max": 0}
        if a.transport == "rtu":
            return AsyncModbusSerialClient(
                a.serial_port,
                framer=FramerType.RTU,
                baudrate=a.baudrate,
                parity=a.parity,
                stopbits=a.stopbits,
                bytesize=a.bytesize,
                **common,  # type: ignore[arg-type]
            )
        framer = FramerType.SOCKET if a.transport == "tcp" else FramerType.RTU
        return AsyncModbusTcpClient(a.host, port=a.port, framer=framer, **common)  # type: ignore[arg-type]

    async def client(self) -> Client:
        """The connected client; connects on first use and after a drop."""
        async with self._connect_lock:
            if self._client is None:
                self._client = self._make_client()
            if not self._client.connected:
                try:
                    ok = await self._client.connect()
                except (OSError, ModbusException) as exc:
                    raise Unreachable(f"{self.address.bus}: {exc}") from exc
                if not ok:
                    raise Unreachable(f"cannot connect to {self.address.bus}")
            return self._client

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
            self._client = None


class BusPool:
    """The buses of one agent, keyed by address, created on demand."""

    def __init__(self) -> None:
        self._buses: dict[str, ModbusBus] = {}

    def get(self, address: ModbusAddress, timeout_s: float) -> ModbusBus:
        """The bus for an address; its timeout is the shortest asked for by its devices."""
        bus = self._buses.get(address.bus)
        if bus is None:
            bus = self._buses[address.bus] = ModbusBus(address, timeout_s)
        bus.timeout_s = min(bus.timeout_s, timeout_s)
        return bus

    def close(self) -> None:
        """Close every bus."""
        for bus in self._buses.values():
            bus.close()
        self._buses.clear()


class ModbusDriver:
    """Polls one Modbus device with batched reads and decodes its points."""

    def __init__(self, device: DeviceConfig, profile: LoadedProfile, bus: ModbusBus) -> None:
        self.device = device
        self.profile = profile
        self.bus = bus
        self.blocks = plan_reads(profile.points, profile.modbus_profile.modbus)
        self.requests_per_poll = len(self.blocks)
        self.schedule_group: str | None = f"modbus:{device.modbus_address.bus}"
        self.turn: asyncio.Lock | None = bus.turn

    async def connect(self) -> None:
        """Make sure the bus is connected."""
        await self.bus.client()

    async def _read(self, client: Client, block: ReadBlock) -> list[int] | list[bool]:
        unit = self.device.unit_id
        if block.table == "coil":
            rr = await client.read_coils(block.address, count=block.count, device_id=unit)
        elif block.table == "discrete_input":
            rr = await client.read_discrete_inputs(block.address, count=block.count, device_id=unit)
        elif block.table == "holding_register":
            rr = await client.read_holding_registers(block.address, count=block.count, device_id=unit)
        else:
            rr = await client.read_input_registers(block.address, count=block.count, device_id=unit)
        if rr.isError():
            code = rr.exception_code if isinstance(rr, ExceptionResponse) else -1
            error, text = _EXCEPTION_ERRORS.get(code, (ProtocolError, f"exception code {code}"))
            raise error(f"{text} reading {block.table} {block.address}+{block.count}")
        values: list[int] | list[bool] = (
            list(rr.bits) if block.table in ("coil", "discrete_input") else list(rr.registers)
        )
        if len(values) < block.count:
            raise ProtocolError(f"short answer: {len(values)} of {block.count} {block.table} values")
        return values[: block.count]

    async def poll(self) -> dict[str, Value]:
        """Read every block and decode the points."""
        client = await self.bus.client()
        tables: dict[str, dict[int, int | bool]] = {}
        try:
            for block in self.blocks:
                values = await self._read(client, block)
                table = tables.setdefault(block.table, {})
                for offset, value in enumerate(values):
                    table[block.address + offset] = value
        except ModbusIOException as exc:
            raise DeviceTimeout(f"no answer from unit {self.device.unit_id}") from exc
        except ConnectionException as exc:
            raise Unreachable(str(exc)) from exc
        except ModbusException as exc:
            raise ProtocolError(str(exc)) from exc
        word_order = self.profile.modbus_profile.modbus.word_order
        decoded: dict[str, Value] = dict(decode_points(tables, self.profile.points, word_order))
        return decoded

    async def close(self) -> None:
        """Buses are closed by their pool, not by one device."""


def create(device: DeviceConfig, profile: LoadedProfile, context: DriverContext, timeout_s: float) -> ModbusDriver:
    """Registry entry: build the driver of one device on its shared bus."""
    pool = context.shared.setdefault("modbus", BusPool())
    assert isinstance(pool, BusPool)
    return ModbusDriver(device, profile, pool.get(device.modbus_address, timeout_s))
