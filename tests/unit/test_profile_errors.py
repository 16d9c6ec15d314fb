"""Each kind of profile mistake is reported with the file, the line, the field and the reason."""

from pathlib import Path

import pytest

from agent.errors import ProfileError
from agent.profiles import load_profile

GOOD = """\
schema_version: 1
kind: one_click_alarm
vendor: acme
model: X1
driver: modbus
points:
  - {name: panic_input, table: discrete_input, address: 0}
  - {name: battery_v, table: input_register, address: 0, type: uint16, scale: 0.01}
alarms:
  - {type: panic, point: panic_input, severity: critical}
metrics: [battery_v]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "one_click_alarm" / "acme-x1.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_good_profile_loads(tmp_path: Path) -> None:
    loaded = load_profile(_write(tmp_path, GOOD))
    assert loaded.kind == "one_click_alarm"
    assert [p.name for p in loaded.points] == ["panic_input", "battery_v"]


@pytest.mark.parametrize(
    ("old", "new", "field", "reason", "line"),
    [
        ("model: X1\n", "model: X1\ncolour: red\n", "colour", "unknown field", 5),
        (
            "  - {name: battery_v",
            "  - {name: other, table: discrete_input, address: 0}\n  - {name: battery_v",
            "points[1].address",
            "'other' overlaps 'panic_input' at discrete_input 0",
            8,
        ),
        (
            "  - {name: battery_v",
            "  - {name: panic_input, table: coil, address: 3}\n  - {name: battery_v",
            "points[1].name",
            "duplicate point 'panic_input'",
            8,
        ),
        ("address: 0, type: uint16", "address: ten, type: uint16", "points[1].address", "valid integer", 8),
        ("address: 0, type: uint16", "address: 70000, type: uint16", "points[1].address", "less than or equal", 8),
        ("point: panic_input", "point: panik_input", "alarms[0].point", "unknown point 'panik_input'", 10),
        ("metrics: [battery_v]", "metrics: [battery]", "metrics[0]", "unknown point 'battery'", 11),
        ("kind: one_click_alarm", "kind: toaster", "kind", "Input should be", 2),
        ("driver: modbus", "driver: bacnet", "driver", "does not match any of the expected tags", 5),
        (
            "{name: panic_input, table: discrete_input, address: 0}",
            "{name: panic_input, table: discrete_input, address: 0, type: uint16}",
            "points[0]",
            "type must be bool",
            7,
        ),
        ("severity: critical", "severity: apocalyptic", "alarms[0].severity", "Input should be", 10),
    ],
)
def test_each_mistake_names_file_field_reason(
    tmp_path: Path, old: str, new: str, field: str, reason: str | None, line: int | None
) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    error = caught.value
    assert error.file == str(path)
    assert error.field == field
    if reason:
        assert reason in error.detail
    if line:
        assert error.line == line
    assert str(path) in str(error) and field in str(error)


def test_uint32_overlapping_the_next_register_is_caught(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        GOOD.replace(
            "  - {name: battery_v, table: input_register, address: 0, type: uint16, scale: 0.01}\n",
            "  - {name: battery_v, table: input_register, address: 0, type: uint32}\n"
            "  - {name: count, table: input_register, address: 1, type: uint16}\n",
        ),
    )
    with pytest.raises(ProfileError, match="'count' overlaps 'battery_v' at input_register 1") as caught:
        load_profile(path)
    assert caught.value.field == "points[2].address"


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("vendor: acme", "vendor: [acme"))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.field == "(syntax)"
    assert caught.value.line is not None


def test_numeric_alarm_needs_a_condition(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("point: panic_input", "point: battery_v"))
    with pytest.raises(ProfileError, match="numeric point needs a condition") as caught:
        load_profile(path)
    assert caught.value.field == "alarms[0].when"


def test_bundled_profiles_all_pass_the_checker(capsys: pytest.CaptureFixture[str]) -> None:
    import device_profiles
    from campusguard.cli import main

    bundled = len(list(device_profiles.PROFILES_DIR.rglob("*.yaml")))
    assert main(["profiles", "check", "device_profiles"]) == 0
    out = capsys.readouterr().out
    assert f"{bundled} valid, 0 invalid" in out


def test_checker_exits_nonzero_and_names_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from campusguard.cli import main

    _write(tmp_path, GOOD.replace("address: 0}", "address: -1}"))
    assert main(["profiles", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "points[0].address" in out and "1 invalid" in out


@pytest.mark.parametrize(
    ("alarms", "field", "reason"),
    [
        (
            "  - {type: panic, point: panic_input}\n  - {type: panic, point: panic_input}\n",
            "alarms[1].type",
            "defined twice",
        ),
        ("  - {type: panic, point: panic_input, repeat: {count: 2}}\n", "alarms[0].point", "needs {n}"),
        (
            "  - {type: panic, point: panic_input, latch: {point: battery_v}}\n",
            "alarms[0].latch",
            "must be a bool point",
        ),
        (
            "  - {type: panic, point: panic_input, only_when: battery_v}\n",
            "alarms[0].only_when",
            "must be a bool point",
        ),
    ],
)
def test_alarm_rule_mistakes(tmp_path: Path, alarms: str, field: str, reason: str) -> None:
    text = GOOD.replace("  - {type: panic, point: panic_input, severity: critical}\n", alarms)
    with pytest.raises(ProfileError) as caught:
        load_profile(_write(tmp_path, text))
    assert caught.value.field == field
    assert reason in caught.value.detail


def test_serial_options_are_parsed_as_numbers() -> None:
    from agent.modbus.address import parse_address

    address = parse_address("rtu:///dev/ttyUSB0?baudrate=19200&parity=E&stopbits=2&bytesize=7")
    assert (address.baudrate, address.parity, address.stopbits, address.bytesize) == (19200, "E", 2, 7)
    assert address.bus == "rtu:/dev/ttyUSB0"
