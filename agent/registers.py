"""Pure register work: plan batched reads, decode raw tables into point values, and encode back.

Raw data is ``{table: {address: value}}`` with bools for bit tables and 0..65535 ints for registers.
"""

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.profiles import BIT_TABLES, AlarmRule, Point

if TYPE_CHECKING:
    from agent.modbus.profile import ModbusSettings

Number = bool | int | float  # what registers hold
Value = Number | str | None  # what drivers report: str and None for camera results (fault class, unknown fps)
RawTables = Mapping[str, Mapping[int, int | bool]]


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One Modbus read request: ``count`` addresses of ``table`` from ``address``."""

    table: str
    address: int
    count: int


def plan_reads(
    points: Iterable[Point], settings: "ModbusSettings", alarms: Iterable[AlarmRule] = ()
) -> list[ReadBlock]:
    """Merge points into as few reads as the protocol limits and the allowed gap permit.

    The reads of one poll happen one after another, so a press can land between two of them. The
    blocks are therefore read in the order that keeps every such split harmless: alarm inputs
    first, then latches, then counters (``read_rank``). A press after the input's read shows on
    the next poll; a press before it shows in the latch and the counter too. Read the other way
    round, a poll can see the button pressed and the box not yet latched, and the agent would wait
    for a latch it may never see (the box reset before the next poll).
    """
    points = list(points)
    spans: dict[str, list[tuple[int, int]]] = {}
    for point in points:
        spans.setdefault(point.table, []).append((point.address, point.address + point.width))
    blocks: list[ReadBlock] = []
    for table in sorted(spans):
        limit = settings.max_bits_per_read if table in BIT_TABLES else settings.max_registers_per_read
        start, end = None, 0
        for lo, hi in sorted(spans[table]):
            if start is not None and lo - end <= settings.max_gap and max(hi, end) - start <= limit:
                end = max(end, hi)
                continue
            if start is not None:
                blocks.append(ReadBlock(table, start, end - start))
            start, end = lo, hi
        if start is not None:
            blocks.append(ReadBlock(table, start, end - start))
    ranks = read_rank(alarms)

    def rank(block: ReadBlock) -> int:
        inside = (
            p.name
            for p in points
            if p.table == block.table and block.address <= p.address < block.address + block.count
        )
        return min((ranks.get(name, len(_RANKS)) for name in inside), default=len(_RANKS))

    return sorted(blocks, key=rank)  # stable: table and address order within a rank


_RANKS = ("point", "latch", "counter")


def read_rank(alarms: Iterable[AlarmRule]) -> dict[str, int]:
    """Each alarm point's place in a poll: its input (0) before its latch (1) before its counter (2)."""
    ranks: dict[str, int] = {}
    for rule in alarms:
        for rank, name in enumerate((rule.point, rule.latch.point if rule.latch else None, rule.counter)):
            if name is not None:
                ranks[name] = min(ranks.get(name, rank), rank)
    return ranks


def _words(raw: Mapping[int, int | bool], point: Point, word_order: str) -> bytes:
    words = [int(raw[point.address + i]) for i in range(point.width)]
    if word_order == "little":
        words.reverse()
    return b"".join(w.to_bytes(2, "big") for w in words)


def decode_point(tables: RawTables, point: Point, word_order: str = "big") -> Number:
    """Decode one point from raw tables, applying scale and offset. KeyError if not read."""
    raw = tables[point.table]
    if point.table in BIT_TABLES:
        return bool(raw[point.address])
    if point.type == "bool":
        assert point.bit is not None
        return bool((int(raw[point.address]) >> point.bit) & 1)
    data = _words(raw, point, word_order)
    fmt = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}[point.type]
    (number,) = struct.unpack(fmt, data)
    if point.scale == 1.0 and point.offset == 0.0 and point.type != "float32":
        return int(number)
    return round(float(number) * point.scale + point.offset, 6)


def decode_points(tables: RawTables, points: Iterable[Point], word_order: str = "big") -> dict[str, Number]:
    """Decode every point into a name-to-value map."""
    return {p.name: decode_point(tables, p, word_order) for p in points}


def encode_point(point: Point, value: Number, word_order: str = "big") -> list[int] | bool:
    """Encode a value into the registers (or the bit) of a point; the inverse of decode_point.

    For a bool inside a register the caller merges the bit; see ``merge_bit``.
    """
    if point.table in BIT_TABLES or point.type == "bool":
        return bool(value)
    number = (float(value) - point.offset) / point.scale
    fmt = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}[point.type]
    packed = struct.pack(fmt, number if point.type == "float32" else round(number))
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    if word_order == "little":
        words.reverse()
    return words


def merge_bit(register: int, bit: int, value: bool) -> int:
    """Set or clear one bit of a register value."""
    return register | (1 << bit) if value else register & ~(1 << bit)
