"""Golden cases per device profile: registers in (``case.yaml``), point values and alarms out.

Add a case folder next to these to pin a new model's register map; see device_profiles/README.md.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

import device_profiles
from agent.alarms import AlarmTracker
from agent.modbus.profile import ModbusProfile
from agent.profiles import load_profile, resolve
from agent.registers import decode_points, plan_reads

CASES = sorted(p.parent for p in Path(__file__).parent.glob("*/case.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    loaded = load_profile(resolve(spec["profile"], [device_profiles.PROFILES_DIR]), spec["profile"])
    tables: dict[str, dict[int, int | bool]] = {}
    for block in plan_reads(loaded.points, loaded.as_type(ModbusProfile).modbus):  # what the driver would read
        given = spec["registers"].get(block.table, {})
        zero: int | bool = False if block.table in ("coil", "discrete_input") else 0
        table = tables.setdefault(block.table, {})
        for address in range(block.address, block.address + block.count):
            table[address] = given.get(address, zero)
    values = decode_points(tables, loaded.points, loaded.as_type(ModbusProfile).modbus.word_order)
    for name, expected in spec["expect"]["points"].items():
        assert values[name] == pytest.approx(expected), name
    tracker = AlarmTracker(loaded.alarms)
    start = datetime(2026, 11, 23, tzinfo=UTC)
    tracker.update(values, start)
    tracker.update(values, start + timedelta(seconds=60))  # past every debounce
    assert sorted(tracker.active()) == sorted(spec["expect"]["alarms"])


def test_every_bundled_modbus_profile_has_a_golden_case() -> None:
    # Camera profiles have no registers; their golden cases are the fault classes (tests/agent/test_camera*.py).
    covered = {yaml.safe_load((c / "case.yaml").read_text(encoding="utf-8"))["profile"] for c in CASES}
    bundled = {
        str(p.relative_to(device_profiles.PROFILES_DIR).with_suffix(""))
        for p in device_profiles.PROFILES_DIR.rglob("*.yaml")
        if "driver: modbus" in p.read_text(encoding="utf-8")
    }
    assert bundled <= covered, f"profiles without a golden case: {sorted(bundled - covered)}"
