"""What compliance rules read and say: a school's profile, a rule, and a finding.

Pure data. A value the school has not declared is ``None``, never a default that would pass: a
rule that needs it finds ``unknown`` and says which field is missing.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


class SchoolType(enum.StrEnum):
    KINDERGARTEN = "kindergarten"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    NINE_YEAR = "nine_year"
    VOCATIONAL = "vocational"


class Platform(enum.StrEnum):
    """Where a point must be networked (联网)."""

    POLICE = "police"  # 公安平台 / 110
    LOCAL_VIDEO = "local_video"  # 当地视频监控平台
    EDUCATION = "education"  # 教育平台


# The fixed location taxonomy a profile's points use (GB/T 29315 Table A.1's places), with labels.
LOCATIONS: dict[str, str] = {
    "gate_outside": "大门外",
    "main_gate": "大门/主出入口",
    "guard_room": "门卫室",
    "perimeter": "周界",
    "playground": "操场/活动区",
    "teaching_building": "教学楼出入口及走廊",
    "dormitory_entrance": "宿舍出入口",
    "dorm_duty_room": "宿舍值班室",
    "canteen": "食堂出入口",
    "canteen_prep": "食堂操作间",
    "lab": "实验室/危化品室",
    "kindergarten_room": "幼儿园活动室/寝室",
    "monitoring_room": "监控室",
    "other": "其他",
}


class Status(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"  # the data to judge is missing: never counted as pass


@dataclass(frozen=True)
class Segment:
    """One stretch of the school's perimeter."""

    id: str
    wall_height_m: float | None = None  # None: not surveyed
    fence_zone: str | None = None  # the electronic fence zone covering it ("fence-1:2"), if any


@dataclass(frozen=True)
class Networked:
    """A point's link to a platform: how we know, and since when."""

    platform: Platform
    how: str  # "forwarding_test" | "registration" | "attested"
    by: str | None = None  # who attested
    at: date | None = None


@dataclass(frozen=True)
class Point:
    """A device the school declares at a location, with the platform it must reach."""

    device_id: str
    kind: str  # camera, one_click_alarm, access_gate, fence, ...
    location: str  # from the taxonomy: main_gate, guard_room, perimeter, kindergarten_room, ...
    required_platform: Platform | None = None
    networked: tuple[Networked, ...] = ()
    # Declared facts a rule may read: resolution ("1920x1080"), retention_days (of its recorder), ...
    attributes: Mapping[str, str | float] = field(default_factory=dict)


@dataclass(frozen=True)
class SchoolProfile:
    """What a school is and what it has, as declared (``None``: not declared)."""

    school_id: str
    packs: tuple[str, ...] | None = None  # the rule packs it is judged by; None: its district's
    type: SchoolType | None = None
    boarding: bool | None = None
    pickup_cards: bool | None = None  # 接送卡制度 in use (kindergartens)
    perimeter: tuple[Segment, ...] | None = None  # None: the perimeter was never surveyed
    points: tuple[Point, ...] = ()


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: a document of the customer's or a standard."""

    document: str  # a seed file name or a standard's number
    clause: str
    quote: str
    confidence: str  # as the research rates it: SEC, SRC, LOCAL, INF


@dataclass(frozen=True)
class Rule:
    """One duty, with the check that judges it."""

    id: str
    text_zh: str
    text_en: str
    severity: str  # critical | major | minor
    source: Source
    check: str  # a name in hub.domain.compliance.checks.CHECKS
    school_types: frozenset[SchoolType] | None = None  # None: every type
    params: dict[str, float | str] = field(default_factory=dict)
    boarding: bool | None = None  # scope: only boarding schools (True), only day schools (False), both (None)
    in_force_from: date | None = None  # scope: the rule binds from this day (a deadline's next day) ...
    in_force_until: date | None = None  # ... up to and including this one
    repair_within_h: float | None = None  # a failing finding is overdue this long after it began
    overridden: str | None = None  # why a district changed its parameters, when one did


@dataclass(frozen=True)
class DeviceState:
    """What the hub knows of a device now: its availability, why, since when, and what it reports."""

    availability: str  # online | degraded | offline | unknown
    since: datetime | None = None
    reason: str | None = None
    metrics: Mapping[str, float | str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PatrolKept:
    """A video patrol plan that looks at the school's cameras, and its rounds over the last 24 h."""

    plan: str
    owed: int
    done: int
    missed: int
    first_missed: datetime | None = None


@dataclass(frozen=True)
class Observed:
    """The live facts rules about working devices read: each device's state at ``at``.

    ``forwarded`` is when each device's last alarm reached the police receiver (an end-to-end test
    or a real alarm), for rules about tested links.
    """

    at: datetime
    devices: Mapping[str, DeviceState] = field(default_factory=dict)
    forwarded: Mapping[str, datetime] = field(default_factory=dict)
    patrols: tuple[PatrolKept, ...] | None = None  # None: the patrol records were not read


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on one subject (the school, a segment, a point)."""

    rule_id: str
    subject: str
    status: Status
    evidence: str
    missing: tuple[str, ...] = ()  # what data would let the rule judge (with ``unknown``)
