"""Simulated devices: their register state comes from the same profiles the agent reads.

Each kind has actions that change points the way the real device would (a press latches; a reset
clears the latch; a cut zone loses its voltage). Faults apply to any kind: ``go_silent`` stops
answering (like a dead device on an RS-485 bus), ``answer_exceptions`` answers every request with a
Modbus exception, ``answer_late`` (``delay_s``) answers each request that much later (a slow unit whose
answers arrive after the poller gave up), ``recover`` undoes them.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.simulator import DataType, SimData, SimDevice

from agent.modbus.profile import ModbusProfile
from agent.profiles import BIT_TABLES, LoadedProfile
from agent.registers import Number, encode_point, merge_bit

FUNCTION_CODE = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}
TABLE_ORDER = ("coil", "discrete_input", "holding_register", "input_register")
NOMINAL_FENCE_KV = 8.5

SetNumbers = Callable[[int, int, int, list[int] | list[bool]], Awaitable[Any]]


class ActionError(ValueError):
    """An action that does not exist or has bad parameters."""


def _table_size(profile: LoadedProfile, table: str) -> int:
    ends = [p.address + p.width for p in profile.points if p.table == table]
    return max([16, *ends])


class SimulatedDevice:
    """One device: point values, fault mode, and the pymodbus SimDevice that serves them."""

    def __init__(self, device_id: str, unit_id: int, profile: LoadedProfile, address: str) -> None:
        self.id = device_id
        self.unit_id = unit_id
        self.profile = profile
        self.address = address
        self.mode = "normal"  # normal | silent | exceptions | late
        self.late_s = 0.0
        self.values: dict[str, Number] = {p.name: (False if p.type == "bool" else 0) for p in profile.points}
        self._set_values: SetNumbers | None = None
        self._internal_write = False
        self.requests = 0
        self._initial()

    @property
    def kind(self) -> str:
        """The device kind."""
        return self.profile.kind

    def _initial(self) -> None:
        if self.kind == "one_click_alarm":
            self.values.update(battery_v=13.2)
        elif self.kind == "fence":
            for n in range(1, 5):
                self.values[f"zone{n}_armed"] = True
                self.values[f"zone{n}_voltage_kv"] = NOMINAL_FENCE_KV
        elif self.kind == "access_gate":
            self.values.update(held_limit_s=30)

    def sim_device(self) -> SimDevice:
        """The pymodbus device serving this device's registers (classic four-table layout)."""
        blocks: list[list[SimData]] = []
        for table in TABLE_ORDER:
            size = _table_size(self.profile, table)
            if table in BIT_TABLES:
                blocks.append([SimData(0, count=size, values=False, datatype=DataType.BITS)])
            else:
                blocks.append([SimData(0, count=size, values=0, datatype=DataType.REGISTERS)])
        return SimDevice(self.unit_id, simdata=(blocks[0], blocks[1], blocks[2], blocks[3]), action=self._on_access)

    async def _on_access(  # noqa: PLR0917 - the signature pymodbus calls
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self._internal_write:
            return None
        self.requests += 1
        if self.mode == "silent":
            raise NoSuchIdException(str(self.unit_id))  # with ignore_missing_devices: no answer at all
        if self.mode == "exceptions":
            return ExcCodes.DEVICE_FAILURE
        if self.mode == "late":
            await asyncio.sleep(self.late_s)
        return None

    async def attach(self, set_values: SetNumbers) -> None:
        """Connect to the server's datastore and write the initial state."""
        self._set_values = set_values
        await self.write(dict(self.values))

    async def write(self, changes: dict[str, Number]) -> None:
        """Set points and push them into the Modbus tables."""
        assert self._set_values is not None
        self.values.update(changes)
        word_order = self.profile.as_type(ModbusProfile).modbus.word_order
        registers: dict[tuple[str, int], int] = {}
        for point in self.profile.points:
            if point.table in BIT_TABLES or point.type != "bool":
                continue
            assert point.bit is not None
            key = (point.table, point.address)
            registers[key] = merge_bit(registers.get(key, 0), point.bit, bool(self.values[point.name]))
        self._internal_write = True
        try:
            for name in changes:
                point = self.profile.by_name[name]
                fc = FUNCTION_CODE[point.table]
                if point.table in BIT_TABLES:
                    await self._set_values(self.unit_id, fc, point.address, [bool(self.values[name])])
                elif point.type == "bool":
                    reg = registers[(point.table, point.address)]
                    await self._set_values(self.unit_id, fc, point.address, [reg])
                else:
                    words = encode_point(point, self.values[name], word_order)
                    assert isinstance(words, list)
                    await self._set_values(self.unit_id, fc, point.address, words)
        finally:
            self._internal_write = False

    def describe(self) -> dict[str, Any]:
        """The device as the control interface lists it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "profile": self.profile.ref,
            "address": self.address,
            "unit_id": self.unit_id,
            "mode": self.mode,
            "requests": self.requests,
            "points": dict(self.values),
        }

    async def act(self, action: str, params: dict[str, Any]) -> dict[str, Number]:
        """Apply a named action; return the points it changed."""
        if action == "go_silent":
            self.mode = "silent"
            return {}
        if action == "answer_exceptions":
            self.mode = "exceptions"
            return {}
        if action == "answer_late":
            delay = params.get("delay_s", 1.0)
            if not isinstance(delay, int | float) or not 0 < delay <= 10:
                raise ActionError("delay_s must be a number of seconds in (0, 10]")
            self.mode, self.late_s = "late", float(delay)
            return {}
        if action == "recover":
            self.mode = "normal"
            return {}
        changes = self._changes(action, params)
        await self.write(changes)
        return changes

    def _zones(self, params: dict[str, Any]) -> list[int]:
        zone = params.get("zone")
        if zone is None:
            return [1, 2, 3, 4]
        if not isinstance(zone, int) or not 1 <= zone <= 4:
            raise ActionError("zone must be 1-4")
        return [zone]

    def _changes(self, action: str, params: dict[str, Any]) -> dict[str, Number]:
        on = bool(params.get("on", True))
        common: dict[str, Callable[[], dict[str, Number]]] = {
            "tamper": lambda: {"tamper": on},
            "mains_loss": lambda: {"mains_lost": on},
            "set": lambda: self._set_point(params),
        }
        if action in common and (action != "mains_loss" or "mains_lost" in self.values):
            return common[action]()
        if self.kind == "one_click_alarm":
            return self._panic_box(action, params)
        if self.kind == "fence":
            return self._fence(action, params)
        if self.kind == "access_gate":
            return self._gate(action)
        raise ActionError(f"unknown action {action!r}")

    def _set_point(self, params: dict[str, Any]) -> dict[str, Number]:
        name = params.get("point")
        if name not in self.values:
            raise ActionError(f"unknown point {name!r}")
        value = params.get("value")
        if not isinstance(value, bool | int | float):
            raise ActionError("value must be a number or boolean")
        return {str(name): value}

    def _panic_box(self, action: str, params: dict[str, Any]) -> dict[str, Number]:
        pressed = bool(self.values["panic_input"])
        if action == "press":  # the box counts activations: a press that latches it
            count = int(self.values["press_count"]) + (0 if self.values["panic_latched"] else 1)
            return {"panic_input": True, "panic_latched": True, "press_count": count}
        if action == "release":
            return {"panic_input": False}
        if action == "reset":  # the reset key: a press still held latches again at once
            return {"panic_latched": pressed}
        if action == "battery":
            volts = float(params.get("volts", 11.0))
            return {"battery_v": volts, "battery_low": volts < 11.5}
        if action == "self_test":
            return {"self_test_result": int(params.get("result", 0))}
        raise ActionError(f"unknown action {action!r} for a one_click_alarm")

    def _fence(self, action: str, params: dict[str, Any]) -> dict[str, Number]:
        changes: dict[str, Number] = {}
        for n in self._zones(params):
            if action == "cut":
                changes.update({f"zone{n}_wire_cut": True, f"zone{n}_voltage_kv": 0.0, f"zone{n}_pulse_loss": True})
            elif action == "intrude":
                changes[f"zone{n}_intrusion"] = True
            elif action == "short":
                changes.update({f"zone{n}_short": True, f"zone{n}_voltage_kv": 0.4})
            elif action == "restore":
                changes.update(
                    {
                        f"zone{n}_intrusion": False,
                        f"zone{n}_wire_cut": False,
                        f"zone{n}_short": False,
                        f"zone{n}_pulse_loss": False,
                        f"zone{n}_voltage_kv": NOMINAL_FENCE_KV,
                    }
                )
            elif action == "voltage":
                kv = float(params.get("kv", 0.0))
                changes.update({f"zone{n}_voltage_kv": kv, f"zone{n}_pulse_loss": kv < 1.0})
            elif action in ("arm", "disarm"):
                changes[f"zone{n}_armed"] = action == "arm"
            else:
                raise ActionError(f"unknown action {action!r} for a fence")
        return changes

    def _gate(self, action: str) -> dict[str, Number]:
        if action == "force_door":
            return {"door_open": True, "door_forced": True}
        if action == "hold_door":
            return {"door_open": True, "door_held": True}
        if action == "close_door":
            return {"door_open": False, "door_forced": False, "door_held": False}
        if action == "grant":
            return {"granted_count": int(self.values["granted_count"]) + 1}
        if action == "deny":
            return {"denied_count": int(self.values["denied_count"]) + 1}
        if action == "reader_fault":
            return {"reader_fault": True}
        if action == "reader_ok":
            return {"reader_fault": False}
        raise ActionError(f"unknown action {action!r} for an access_gate")
