"""Read batching and register decoding."""

import pytest

from agent.modbus.profile import ModbusSettings
from agent.profiles import Point
from agent.registers import ReadBlock, decode_point, encode_point, merge_bit, plan_reads


def _p(name: str, table: str, address: int, type_: str = "bool", **kw: object) -> Point:
    return Point.model_validate({"name": name, "table": table, "address": address, "type": type_, **kw})


@pytest.mark.parametrize(
    ("points", "settings", "expected"),
    [
        (
            [_p("a", "discrete_input", 0), _p("b", "discrete_input", 1), _p("c", "discrete_input", 9)],
            ModbusSettings(),
            [ReadBlock("discrete_input", 0, 10)],
        ),
        (
            [_p("a", "discrete_input", 0), _p("b", "discrete_input", 40)],
            ModbusSettings(max_gap=8),
            [ReadBlock("discrete_input", 0, 1), ReadBlock("discrete_input", 40, 1)],
        ),
        (
            [_p("a", "holding_register", 0, "uint32"), _p("b", "holding_register", 2, "uint16")],
            ModbusSettings(),
            [ReadBlock("holding_register", 0, 3)],
        ),
        (
            [_p("a", "holding_register", 0, "uint16"), _p("b", "holding_register", 99, "uint32")],
            ModbusSettings(max_gap=100, max_registers_per_read=100),
            [ReadBlock("holding_register", 0, 1), ReadBlock("holding_register", 99, 2)],
        ),
        (
            [_p("a", "coil", 0), _p("b", "input_register", 5, "int16"), _p("c", "coil", 3)],
            ModbusSettings(),
            [ReadBlock("coil", 0, 4), ReadBlock("input_register", 5, 1)],
        ),
        (
            [_p("a", "holding_register", 0, "bool", bit=0), _p("b", "holding_register", 0, "bool", bit=7)],
            ModbusSettings(),
            [ReadBlock("holding_register", 0, 1)],
        ),
    ],
)
def test_plan_reads_batches_within_limits(
    points: list[Point], settings: ModbusSettings, expected: list[ReadBlock]
) -> None:
    assert plan_reads(points, settings) == expected


@pytest.mark.parametrize(
    ("point", "registers", "word_order", "expected"),
    [
        (_p("v", "input_register", 0, "uint16", scale=0.1), [85], "big", 8.5),
        (_p("v", "input_register", 0, "int16"), [0xFFFE], "big", -2),
        (_p("v", "input_register", 0, "uint32"), [0x0001, 0x0002], "big", 65538),
        (_p("v", "input_register", 0, "uint32"), [0x0002, 0x0001], "little", 65538),
        (_p("v", "input_register", 0, "int32"), [0xFFFF, 0xFFFF], "big", -1),
        (_p("v", "input_register", 0, "float32"), [0x4148, 0x0000], "big", 12.5),
        (_p("b", "input_register", 0, "bool", bit=3), [0b1000], "big", True),
        (_p("b", "input_register", 0, "bool", bit=2), [0b1000], "big", False),
    ],
)
def test_decode_and_encode_are_inverse(point: Point, registers: list[int], word_order: str, expected: object) -> None:
    tables = {"input_register": dict(enumerate(registers))}
    assert decode_point(tables, point, word_order) == expected
    if point.type != "bool":
        assert encode_point(point, expected, word_order) == registers  # type: ignore[arg-type]


def test_merge_bit() -> None:
    assert merge_bit(0b0001, 3, True) == 0b1001
    assert merge_bit(0b1001, 0, False) == 0b1000
