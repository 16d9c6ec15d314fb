"""School profiles from a spreadsheet (CSV, UTF-8 with or without a BOM): one row per device or
perimeter segment, the school's own fields on any of its rows.

Columns (all but ``school_id`` optional): ``school_id, type, boarding, pickup_cards, packs``
(``;``-separated), ``device_id, kind, location, required_platform, networked``
(``police:forwarding_test;local_video:registration``), ``resolution, retention_days``,
``segment_id, wall_height_m, fence_zone``. An error names the file, the row (as a spreadsheet
numbers it, the header being row 1), the column and the reason.
"""

import csv
import io
from pathlib import Path
from typing import Any

from hub.compliance.files import ComplianceFileError, parse_profile
from hub.domain.compliance.model import SchoolProfile

SCHOOL = ("type", "boarding", "pickup_cards", "packs")
POINT = ("device_id", "kind", "location", "required_platform", "networked", "resolution", "retention_days")
SEGMENT = ("segment_id", "wall_height_m", "fence_zone")
KNOWN = frozenset(("school_id", *SCHOOL, *POINT, *SEGMENT))
MAX_ROWS = 500_000


def _bool(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "是", "y"):
        return True
    if lowered in ("false", "no", "0", "否", "n"):
        return False
    raise ComplianceFileError(f"{where}: not yes or no: {value!r}")


def _networked(value: str, where: str) -> list[dict[str, str]]:
    links = []
    for part in filter(None, (p.strip() for p in value.split(";"))):
        platform, _, how = part.partition(":")
        if not how:
            raise ComplianceFileError(f"{where}: {part!r} is not platform:how (e.g. police:forwarding_test)")
        links.append({"platform": platform.strip(), "how": how.strip()})
    return links


def _school(school: dict[str, Any], row: dict[str, str], n: int, where: str) -> None:
    for name in SCHOOL:
        raw = (row.get(name) or "").strip()
        if not raw:
            continue
        at = f"{where}: row {n}: {name}"
        value: Any = raw.split(";") if name == "packs" else _bool(raw, at) if name != "type" else raw
        if name in school and school[name] != value:
            raise ComplianceFileError(f"{at}: {raw!r} here, but {school[name]!r} on an earlier row of the school")
        school[name] = value


def read_csv(path: Path) -> list[SchoolProfile]:
    """The profiles of a CSV file; ComplianceFileError names file, row, column and reason."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ComplianceFileError(f"{path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    unknown = sorted(set(reader.fieldnames or ()) - KNOWN)
    if "school_id" not in (reader.fieldnames or ()) or unknown:
        raise ComplianceFileError(f"{path}: row 1: columns: need school_id; unknown {unknown}; known {sorted(KNOWN)}")
    schools: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, dict[str, list[int]]] = {}  # school → "points"/"perimeter" → the row of each entry
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS:
            raise ComplianceFileError(f"{path}: more than {MAX_ROWS} rows")
        school_id = (row.get("school_id") or "").strip()
        if not school_id:
            raise ComplianceFileError(f"{path}: row {n}: school_id: empty")
        school = schools.setdefault(school_id, {"school_id": school_id, "points": []})
        seen = rows_of.setdefault(school_id, {"points": [], "perimeter": []})
        _school(school, row, n, str(path))
        if (row.get("device_id") or "").strip():
            point: dict[str, Any] = {k: row[k].strip() for k in ("device_id", "kind", "location") if row.get(k)}
            if (row.get("required_platform") or "").strip():
                point["required_platform"] = row["required_platform"].strip()
            point["networked"] = _networked(row.get("networked") or "", f"{path}: row {n}: networked")
            attributes: dict[str, Any] = {}
            if (row.get("resolution") or "").strip():
                attributes["resolution"] = row["resolution"].strip()
            if (row.get("retention_days") or "").strip():
                attributes["retention_days"] = row["retention_days"].strip()
            if attributes:
                point["attributes"] = attributes
            school["points"].append(point)
            seen["points"].append(n)
        if (row.get("segment_id") or "").strip():
            segment = {"id": row["segment_id"].strip()}
            segment.update({k: row[k].strip() for k in ("wall_height_m", "fence_zone") if (row.get(k) or "").strip()})
            school.setdefault("perimeter", []).append(segment)
            seen["perimeter"].append(n)
    return [_parse(data, rows_of[s], path) for s, data in schools.items()]


COLUMN = {"id": "segment_id", "resolution": "resolution", "retention_days": "retention_days"}


def _parse(data: dict[str, Any], rows: dict[str, list[int]], path: Path) -> SchoolProfile:
    """Validate one school; an error about its n-th point or segment names that entry's row."""
    try:
        return parse_profile(data, str(path))
    except ComplianceFileError as exc:
        loc = exc.loc
        if len(loc) >= 2 and loc[0] in rows and isinstance(loc[1], int):
            names = [str(p) for p in loc[2:] if isinstance(p, str)]
            column = "networked" if "networked" in names else names[-1] if names else ""
            row = rows[str(loc[0])][loc[1]]
            raise ComplianceFileError(f"{path}: row {row}: {COLUMN.get(column, column)}: {exc.reason}") from None
        raise ComplianceFileError(
            f"{path}: school {data['school_id']}: {'.'.join(map(str, loc))}: {exc.reason}"
        ) from None
