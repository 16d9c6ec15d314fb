"""A press that lands between two reads of one poll is never lost, nor is the reset that follows it.

A Modbus poll is several requests one after another. A box pressed between two of them shows
half its new state in that poll: the button pressed but the box not yet latched, say. If the guard
resets the box before the next poll (or while the agent is down), the agent must still report the
raise and then the reset: CI once waited for a reset the agent never sent, because the latch (a
coil) was read before the button (a discrete input) and the raise was taken with the latch unseen.

Every latched alarm of every bundled profile, and latches and inputs placed in every table, are
checked at every split point of the poll.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import device_profiles
from agent.alarms import AlarmTracker
from agent.modbus.profile import ModbusProfile
from agent.profiles import BIT_TABLES, AlarmRule, LoadedProfile, load_profile
from agent.registers import Number, ReadBlock, decode_points, encode_point, merge_bit, plan_reads, read_rank

Tables = dict[str, dict[int, int | bool]]


def _bundled() -> list[Path]:
    return sorted(
        p
        for p in device_profiles.PROFILES_DIR.rglob("*.yaml")
        if "driver: modbus" in p.read_text(encoding="utf-8") and "latch:" in p.read_text(encoding="utf-8")
    )


# (input table, latch table, counter table): every placement a register map may use.
PLACEMENTS = [
    ("discrete_input", "coil", "input_register"),
    ("coil", "discrete_input", "holding_register"),
    ("input_register", "coil", "input_register"),
    ("holding_register", "holding_register", "holding_register"),
    ("discrete_input", "input_register", "holding_register"),
    ("holding_register", "coil", "input_register"),
]


def _synthetic(tmp_path: Path, placement: tuple[str, str, str]) -> Path:
    inp, latch, counter = placement

    def point(name: str, table: str, address: int, type_: str = "bool") -> dict[str, Any]:
        spec: dict[str, Any] = {"name": name, "table": table, "address": address}
        if table not in BIT_TABLES:
            spec["type"] = type_
            if type_ == "bool":
                spec["bit"] = 3
        return spec

    profile = {
        "schema_version": 1,
        "kind": "one_click_alarm",
        "vendor": "test",
        "model": "-".join(placement),
        "driver": "modbus",
        "points": [
            point("button", inp, 10),
            point("latched", latch, 20),
            point("presses", counter, 30, "uint32"),
            point("spare", "coil", 40),
        ],
        "alarms": [{"type": "panic", "point": "button", "latch": {"point": "latched"}, "counter": "presses"}],
    }
    path = tmp_path / f"{'-'.join(placement)}.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def _tables(loaded: LoadedProfile, values: dict[str, Number]) -> Tables:
    """The device's register tables holding ``values`` (every other address 0)."""
    word_order = loaded.as_type(ModbusProfile).modbus.word_order
    tables: Tables = {}
    for p in loaded.points:
        table = tables.setdefault(p.table, {})
        encoded = encode_point(p, values.get(p.name, 0), word_order)
        if p.table in BIT_TABLES:
            table[p.address] = bool(encoded)
        elif p.type == "bool":
            assert p.bit is not None
            table[p.address] = merge_bit(int(table.get(p.address, 0)), p.bit, bool(encoded))
        else:
            assert isinstance(encoded, list)
            for i, word in enumerate(encoded):
                table[p.address + i] = word
    return tables


def _poll(loaded: LoadedProfile, blocks: list[ReadBlock], before: Tables, after: Tables, split: int) -> dict[str, Any]:
    """One poll whose first ``split`` reads see ``before`` and the rest see ``after``."""
    seen: Tables = {}
    for i, block in enumerate(blocks):
        source = before if i < split else after
        table = seen.setdefault(block.table, {})
        zero: int | bool = block.table in BIT_TABLES and False
        for address in range(block.address, block.address + block.count):
            table[address] = source.get(block.table, {}).get(address, zero)
    return dict(decode_points(seen, loaded.points, loaded.as_type(ModbusProfile).modbus.word_order))


def _alarm_value(rule: AlarmRule) -> Number:
    if rule.when is None:
        return True
    if rule.when.equals is not None:
        return rule.when.equals
    return (rule.when.above or 0) + 1 if rule.when.above is not None else (rule.when.below or 0) - 1


def _check_every_split(loaded: LoadedProfile) -> None:
    blocks = plan_reads(loaded.points, loaded.as_type(ModbusProfile).modbus, loaded.alarms)
    for rule in (r for r in loaded.alarms if r.latch is not None):
        assert rule.latch is not None
        idle: dict[str, Number] = {rule.point: False, rule.latch.point: False}
        if rule.counter:
            idle[rule.counter] = 7
        pressed = {**idle, rule.point: _alarm_value(rule), rule.latch.point: True}
        if rule.counter:
            pressed[rule.counter] = 8
        reset = {**pressed, rule.point: False, rule.latch.point: False}  # released, then the key turned
        for split in range(len(blocks) + 1):
            tracker = AlarmTracker([rule])
            at = datetime(2026, 11, 28, tzinfo=UTC)
            states = [(idle, idle, 0), (idle, pressed, split), (reset, reset, 0), (reset, reset, 0), (reset, reset, 0)]
            changes = []
            for i, (before, after, cut) in enumerate(states):
                values = _poll(loaded, blocks, _tables(loaded, before), _tables(loaded, after), cut)
                changes += [c.change for c in tracker.update(values, at + timedelta(seconds=i))]
            where = f"{loaded.ref}: {rule.type}, press after read {split} of {[b.table for b in blocks]}"
            assert changes == ["raised", "reset"], f"{where}: {changes}"
            assert tracker.active() == [], where


@pytest.mark.parametrize("path", _bundled(), ids=lambda p: p.stem)
def test_a_press_between_two_reads_of_a_bundled_profile_is_raised_and_reset(path: Path) -> None:
    _check_every_split(load_profile(path))


@pytest.mark.parametrize("placement", PLACEMENTS, ids="/".join)
def test_a_press_between_two_reads_wherever_the_points_live(tmp_path: Path, placement: tuple[str, str, str]) -> None:
    _check_every_split(load_profile(_synthetic(tmp_path, placement)))


def test_inputs_are_read_before_latches_and_latches_before_counters(tmp_path: Path) -> None:
    loaded = load_profile(_synthetic(tmp_path, ("holding_register", "coil", "input_register")))
    blocks = plan_reads(loaded.points, loaded.as_type(ModbusProfile).modbus, loaded.alarms)
    assert [(b.table, b.address) for b in blocks] == [
        ("holding_register", 10),
        ("coil", 20),
        ("input_register", 30),
        ("coil", 40),  # the spare point: after every alarm's
    ]
    assert read_rank(loaded.alarms) == {"button": 0, "latched": 1, "presses": 2}
    # Without alarms the order stays by table, then address.
    plain = plan_reads(loaded.points, loaded.as_type(ModbusProfile).modbus)
    assert [(b.table, b.address) for b in plain] == [
        ("coil", 20),
        ("coil", 40),
        ("holding_register", 10),
        ("input_register", 30),
    ]
