"""Modbus TCP, RTU over TCP and RTU serial, through pymodbus 3.16 (the only module importing it).

Devices on one bus (same TCP endpoint or serial port) share one client and take turns on it, as an
RS-485 bus must. Requests use ``retries=0`` and a short timeout so a dead device costs its
neighbours one timeout per attempt, and the scheduler's backoff spaces those.

A shared bus must survive a silent member. Three things would let one take its neighbours down, and
each is handled here rather than left to pymodbus's defaults:

- pymodbus closes the connection after ``retries + 3`` consecutive unanswered requests, whoever they
  were for; its client then never reconnects by itself. On a bus with several dead units polled back
  to back, that drops the converter's one TCP connection under the live units (many RS-485 servers
  accept a single connection and keep the old one half-open for minutes). The bus turns that off
  and decides itself: it reconnects only when no unit has answered for ``2 x its devices`` requests
  in a row (every device had two chances), which still catches a half-open converter quickly.
- RTU framing has no transaction id. An answer that arrives after its request timed out would be
  taken as the answer to the next request to the same unit. After a timeout an RTU bus stays quiet
  for one timeout before the next request (late answers then land on no request and are dropped),
  and every answer is checked against its request (function code, count) before it is decoded.
- MBAP (Modbus TCP) frames carry a transaction id, which pymodbus checks; no quiet time is needed.
"""

import asyncio
import logging
import sys
from types import TracebackType

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse

from agent.config import DeviceConfig
from agent.drivers.base import DriverContext
from agent.errors import Busy, DeviceTimeout, ProtocolError, Unreachable
from agent.modbus.address import ModbusAddress, parse_address
from agent.modbus.profile import ModbusProfile
from agent.profiles import LoadedProfile
from agent.registers import ReadBlock, Value, decode_points, plan_reads

log = logging.getLogger(__name__)

Client = AsyncModbusTcpClient | AsyncModbusSerialClient

FUNCTION_CODES = {"coil": 0x01, "discrete_input": 0x02, "holding_register": 0x03, "input_register": 0x04}

# Modbus exception codes that mean something other than "the device rejected the request".
_EXCEPTION_ERRORS = {
    0x06: (Busy, "device busy"),
    0x0A: (Unreachable, "gateway path unavailable"),
    0x0B: (DeviceTimeout, "gateway target did not respond"),
}


# asyncio reads a socket into a fresh 256 KiB buffer per recv. glibc serves a block that size with
# mmap, shrinks it with mremap and frees it with munmap, each time: 33 us a read on this machine,
# against 13 us with 16 KiB (bench/agent_poll: 400 reads/s, a point of a core). A Modbus frame is at
# most 260 bytes. pymodbus reconnects only through ``client()`` here (its own reconnect is off).
RECV_MAX = 16 * 1024


def _small_reads(client: Client) -> None:
    transport = getattr(client.ctx, "transport", None)
    if transport is not None and getattr(transport, "max_size", 0) > RECV_MAX:
        transport.max_size = RECV_MAX


class BusTurn:
    """One device's turn on a bus: the bus lock, then the quiet time a timeout asked for.

    Reusable like a lock (the scheduler enters it for every poll); the wait is outside the poll's
    deadline, so a device queued behind a neighbour's timeout is not failed for it.
    """

    def __init__(self, bus: "ModbusBus") -> None:
        self._bus = bus
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        try:
            await self._bus.wait_quiet()
        except BaseException:
            self._lock.release()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()


class ModbusBus:
    """One connection shared by the devices behind it."""

    def __init__(self, address: ModbusAddress, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.device_count = 0
        self.unanswered = 0  # consecutive requests no unit answered
        self.reconnects = 0
        self.connects = 0
        self._quiet_until = 0.0
        self._client: Client | None = None
        self._connect_lock = asyncio.Lock()
        self.turn = BusTurn(self)

    @property
    def has_transaction_ids(self) -> bool:
        """Whether frames carry a transaction id (MBAP), so a late answer cannot be mistaken."""
        return self.address.transport == "tcp"

    def _make_client(self) -> Client:
        a = self.address
        common = {"timeout": self.timeout_s, "retries": 0, "reconnect_delay": 0, "reconnect_delay_max": 0}
        client: Client
        if a.transport == "rtu":
            client = AsyncModbusSerialClient(
                a.serial_port,
                framer=FramerType.RTU,
                baudrate=a.baudrate,
                parity=a.parity,
                stopbits=a.stopbits,
                bytesize=a.bytesize,
                **common,  # type: ignore[arg-type]
            )
        else:
            framer = FramerType.SOCKET if a.transport == "tcp" else FramerType.RTU
            client = AsyncModbusTcpClient(a.host, port=a.port, framer=framer, **common)  # type: ignore[arg-type]
        # pymodbus's own "close after retries+3 unanswered requests" counts every unit on the bus
        # together; the bus decides instead (see the module docstring).
        client.ctx.max_until_disconnect = client.ctx.count_until_disconnect = sys.maxsize
        return client

    async def client(self) -> Client:
        """The connected client; connects on first use and after a drop."""
        async with self._connect_lock:
            if self._client is None:
                self._client = self._make_client()
            if not self._client.connected:
                self.connects += 1
                try:
                    ok = await self._client.connect()
                except (OSError, ModbusException) as exc:
                    raise Unreachable(f"{self.address.bus}: {exc}") from exc
                if not ok:
                    raise Unreachable(f"cannot connect to {self.address.bus}")
                _small_reads(self._client)
            return self._client

    async def wait_quiet(self) -> None:
        """Wait out the quiet time after a timeout on a bus without transaction ids."""
        delay = self._quiet_until - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def answered(self) -> None:
        """A unit answered (data or a Modbus exception): the connection works."""
        self.unanswered = 0

    def desynchronised(self) -> None:
        """An answer did not fit its request: on a bus without transaction ids, let late answers pass."""
        if not self.has_transaction_ids:
            self._quiet_until = asyncio.get_running_loop().time() + self.timeout_s

    def unanswered_request(self) -> None:
        """A request timed out: stay quiet for late answers; reconnect when nobody answers at all."""
        self.unanswered += 1
        self.desynchronised()
        if self.unanswered >= max(3, 2 * self.device_count):
            log.warning("%s: no unit answered %d requests in a row; reconnecting", self.address.bus, self.unanswered)
            self.unanswered = 0
            self.reconnects += 1
            self.close()

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
        bus.device_count += 1
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
        self.blocks = plan_reads(profile.points, profile.as_type(ModbusProfile).modbus, profile.alarms)
        self.requests_per_poll = len(self.blocks)
        self.schedule_group: str | None = f"modbus:{parse_address(device.address).bus}"
        self.turn: BusTurn | None = bus.turn

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
        self.bus.answered()
        what = f"{block.table} {block.address}+{block.count}"
        if (rr.function_code & 0x7F) != FUNCTION_CODES[block.table]:
            self.bus.desynchronised()
            raise ProtocolError(f"answer with function code {rr.function_code} to a read of {what} (a late answer?)")
        if rr.isError():
            code = rr.exception_code if isinstance(rr, ExceptionResponse) else -1
            error, text = _EXCEPTION_ERRORS.get(code, (ProtocolError, f"exception code {code}"))
            raise error(f"{text} reading {what}")
        bits = block.table in ("coil", "discrete_input")
        values: list[int] | list[bool] = list(rr.bits) if bits else list(rr.registers)
        # Bits come padded to whole bytes; registers come exactly as asked.
        if not (block.count <= len(values) < block.count + 8 if bits else len(values) == block.count):
            self.bus.desynchronised()
            raise ProtocolError(f"answer with {len(values)} values to a read of {what}")
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
            self.bus.unanswered_request()
            raise DeviceTimeout(f"no answer from unit {self.device.unit_id}") from exc
        except ConnectionException as exc:
            self.bus.close()  # reconnect on the next poll
            raise Unreachable(str(exc)) from exc
        except ModbusException as exc:
            raise ProtocolError(str(exc)) from exc
        word_order = self.profile.as_type(ModbusProfile).modbus.word_order
        decoded: dict[str, Value] = dict(decode_points(tables, self.profile.points, word_order))
        return decoded

    async def close(self) -> None:
        """Buses are closed by their pool, not by one device."""


def create(device: DeviceConfig, profile: LoadedProfile, context: DriverContext, timeout_s: float) -> ModbusDriver:
    """Registry entry: build the driver of one device on its shared bus."""
    pool = context.shared.setdefault("modbus", BusPool())
    assert isinstance(pool, BusPool)
    return ModbusDriver(device, profile, pool.get(parse_address(device.address), timeout_s))
