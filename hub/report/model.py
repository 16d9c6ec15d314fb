"""What a monthly report says: plain data, built by ``hub.report.collect`` and written by the renderers.

Every figure is the hub's own (docs/compliance.md gives each formula): a rate over known
device-time, with unknown time reported beside it and never counted as up.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hub.domain.compliance.kpis import KpiTotal
from hub.domain.rates import Tally
from hub.domain.repairs import RepairSummary

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ReportError(ValueError):
    """A report that cannot be made as asked (bad month or scope): the message says why."""


class UnknownScope(ReportError):
    """No such district or school."""


class NotVisible(ReportError):
    """The scope holds schools the caller may not see: a report never leaves schools out silently."""


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        match = MONTH.match(text)
        if not match or not 2000 <= int(match.group(1)) <= 2999:
            raise ReportError(f"month {text!r}: expected YYYY-MM, e.g. 2026-11")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def range_in(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The month from local midnight of its first day to that of the next month's, in UTC."""
        nxt = Month(self.year + self.month // 12, self.month % 12 + 1)
        return (
            datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC),
            datetime(nxt.year, nxt.month, 1, tzinfo=tz).astimezone(UTC),
        )


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose report: the whole directory (``city``), one district, or one school."""

    kind: str  # city | district | school
    id: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Scope":
        kind, _, ident = text.partition(":")
        if kind == "city" and not ident:
            return cls("city")
        if kind in ("district", "school") and ident and len(ident) <= 64:
            return cls(kind, ident)
        raise ReportError(f"scope {text!r}: expected city, district:<id> or school:<id>")

    def __str__(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class SchoolLine:
    school_id: str
    name: str
    district: str | None
    devices: int
    rank: int | None  # by 在线率, best first; None when nothing is known
    all_devices: Tally
    cameras: Tally
    days: dict[str, Tally]  # local ISO day -> every device's tally that day
    alarms: int
    panic: int
    failing_rules: int
    unknown_rules: int
    networking_rate: float | None = None  # 联网率 now (hub.domain.compliance.kpis)
    compliant: bool | None = None  # 达标 now; None: unknown


@dataclass(frozen=True, slots=True)
class DeviceLine:
    """A device that was down, or a camera that was not 完好."""

    school_id: str
    school_name: str
    device_id: str
    kind: str
    location: str
    tally: Tally
    longest_outage_s: float


@dataclass(frozen=True, slots=True)
class RepairLine:
    school_id: str
    school_name: str
    device_id: str
    kind: str
    location: str
    down_at: datetime
    up_at: datetime | None  # None: still down when the month (or the data) ended
    hours: float
    overdue: bool


@dataclass(frozen=True, slots=True)
class AlarmLine:
    """Alarms of one kind raised in the month, and how fast people answered them."""

    kind: str
    raised: int
    acknowledged: int
    resolved: int
    still_open: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolve_median_s: float | None  # raised -> resolved
    resolve_p90_s: float | None
    dispositions: tuple[tuple[str, int], ...] = ()  # what the resolved ones turned out to be, most first


@dataclass(frozen=True, slots=True)
class ForwardingLine:
    """Alarms sent to the police alarm centre in the month (hub.forwarding)."""

    messages: int
    delivered: int
    pending: int
    failed: int
    within_2s: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    failed_attempts: int


@dataclass(frozen=True, slots=True)
class FindingLine:
    school_id: str
    school_name: str
    rule_id: str
    subject: str
    status: str
    severity: str
    text_zh: str
    text_en: str
    evidence: str
    missing: tuple[str, ...]
    document: str
    clause: str
    quote: str


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    scope: Scope
    scope_name: str
    month: Month
    timezone: str  # the scope's zone; each school's days are cut in its own
    start: datetime
    end: datetime  # the month's end, or the time the data ends if the month is not over
    complete: bool
    schools: list[SchoolLine]
    total: Tally
    cameras: Tally
    trend: list[tuple[str, Tally]]  # per local day, every school summed
    longest_down: list[DeviceLine]
    cameras_not_intact: list[DeviceLine]
    repairs: RepairSummary
    worst_repairs: list[RepairLine]
    alarms: list[AlarmLine]
    forwarding: ForwardingLine
    findings: list[FindingLine]
    kpis: "KpiTotal | None" = None  # 达标率 and 联网率 of the scope now
