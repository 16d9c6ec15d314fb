"""InfluxDB line protocol: ``measurement,tag=v field=v timestamp`` (InfluxDB 1.x, 2.x and 3.x).

Pure. Escaping as the protocol reference gives it: measurement names escape commas and spaces; tag
keys, tag values and field keys escape commas, equals signs and spaces; string field values are
quoted and escape double quotes and backslashes. A tag with an empty value is left out (the
protocol has no empty tag). Integers carry the ``i`` suffix so a field keeps one type; a float
that is not finite cannot be written and is left out; a line with no field left is not written.
Newlines in any text are replaced by spaces, and a key's trailing backslashes dropped: the protocol
has no way to escape either.
"""

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache

FieldValue = float | int | bool | str | None

_NEWLINES = str.maketrans({"\n": " ", "\r": " "})
_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " ", "\r": " "})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_STRING = 1_024  # a field value longer than this is cut: a time series is not a document store


@lru_cache(maxsize=1 << 16)  # keys and tag values repeat on every heartbeat: escape each once
def _key(text: str) -> str:
    return (
        text.translate(_NEWLINES).rstrip("\\").translate(_KEY)
    )  # a trailing backslash would escape the separator after it


def _field(value: FieldValue) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return '"' + value[:MAX_STRING].translate(_STRING) + '"'


def ns(at: datetime) -> int:
    """A time as integer nanoseconds since the epoch (exact for microseconds); a naive time is UTC.

    Taken in UTC: two times with the same zone subtract as wall-clock times in Python, so a time in
    Europe/London would be an hour off (London kept UTC+1 all through 1970)."""
    at = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def series(measurement: str, tags: Mapping[str, str | None]) -> str:
    """A line's start: the measurement and its tags, sorted (as InfluxDB keeps them)."""
    tag_text = "".join(f",{_key(k)}={_key(v)}" for k, v in sorted(tags.items()) if v and k)
    return f"{measurement.translate(_NEWLINES).translate(_MEASUREMENT)}{tag_text}"


def line_of(series_text: str, fields: Mapping[str, FieldValue], stamp: int) -> str | None:
    """A line from its series (``series``), fields and time in nanoseconds; None with no field."""
    field_text = ",".join(f"{_key(k)}={v}" for k, value in fields.items() if k and (v := _field(value)) is not None)
    return f"{series_text} {field_text} {stamp}" if field_text else None


def line(
    measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, FieldValue], at: datetime
) -> str | None:
    """One point as a line, or None when no field can be written."""
    return line_of(series(measurement, tags), fields, ns(at))
