"""The report's sections as tables: one source for the HTML (and so the PDF), the CSV and the workbook.

A column says how its values read (a rate, hours, a time ...). The HTML formats them in words; the
workbook keeps them as numbers with a number format; the CSV writes plain numbers.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.report.labels import Words
from hub.report.model import MonthlyReport


@dataclass(frozen=True, slots=True)
class Column:
    label: str  # a key of labels.TEXTS
    fmt: str = (
        "text"  # text | int | pct | hours (seconds in) | dur (seconds) | ms | time | spark | kind | word | counts
    )


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # a key of labels.TEXTS: the section's title, and the sheet's name
    columns: tuple[Column, ...]
    rows: list[Sequence[Any]]
    note: str | None = None  # a key of labels.TEXTS shown under the title


def schools(report: MonthlyReport) -> Table:
    return Table(
        "ranking",
        (
            Column("rank", "int"),
            Column("school"),
            Column("district"),
            Column("devices", "int"),
            Column("online_rate", "pct"),
            Column("intact_rate", "pct"),
            Column("camera_intact_rate", "pct"),
            Column("coverage", "pct"),
            Column("unknown_h", "hours"),
            Column("month_trend", "spark"),
            Column("alarms", "int"),
            Column("panic", "int"),
            Column("failing_rules", "int"),
            Column("unknown_rules", "int"),
            Column("networking_rate", "pct"),
            Column("compliant", "word"),
        ),
        [
            (
                s.rank,
                s.name,
                s.district or "",
                s.devices,
                s.all_devices.online_rate,
                s.all_devices.intact_rate,
                s.cameras.intact_rate,
                s.all_devices.coverage,
                s.all_devices.unknown_s,
                [t.online_rate for _, t in sorted(s.days.items())],
                s.alarms,
                s.panic,
                s.failing_rules,
                s.unknown_rules,
                s.networking_rate,
                {True: "yes", False: "no", None: "unknown"}[s.compliant],
            )
            for s in report.schools
        ],
    )


def daily(report: MonthlyReport) -> Table:
    return Table(
        "trend",
        (Column("period"), Column("online_rate", "pct"), Column("intact_rate", "pct"), Column("coverage", "pct")),
        [(day, t.online_rate, t.intact_rate, t.coverage) for day, t in report.trend],
    )


def longest_down(report: MonthlyReport) -> Table:
    return Table(
        "longest_down",
        (
            Column("school"),
            Column("device"),
            Column("kind", "kind"),
            Column("location"),
            Column("offline_h", "hours"),
            Column("longest_outage_h", "hours"),
            Column("online_rate", "pct"),
        ),
        [
            (d.school_name, d.device_id, d.kind, d.location, d.tally.offline_s, d.longest_outage_s, d.tally.online_rate)
            for d in report.longest_down
        ],
    )


def cameras_not_intact(report: MonthlyReport) -> Table:
    return Table(
        "cameras_not_intact",
        (
            Column("school"),
            Column("device"),
            Column("location"),
            Column("intact_rate", "pct"),
            Column("degraded_h", "hours"),
            Column("offline_h", "hours"),
        ),
        [
            (d.school_name, d.device_id, d.location, d.tally.intact_rate, d.tally.degraded_s, d.tally.offline_s)
            for d in report.cameras_not_intact
        ],
    )


def repairs(report: MonthlyReport) -> Table:
    return Table(
        "repairs",
        (
            Column("school"),
            Column("device"),
            Column("kind", "kind"),
            Column("location"),
            Column("down_at", "time"),
            Column("up_at", "time"),
            Column("hours", "hours"),
        ),
        [
            (r.school_name, r.device_id, r.kind, r.location, r.down_at, r.up_at, r.hours * 3600)
            for r in report.worst_repairs
        ],
        note="repairs_note",
    )


def alarms(report: MonthlyReport) -> Table:
    return Table(
        "alarms_by_kind",
        (
            Column("kind", "kind"),
            Column("raised", "int"),
            Column("acknowledged", "int"),
            Column("resolved", "int"),
            Column("still_open", "int"),
            Column("ack_median", "dur"),
            Column("ack_p90", "dur"),
            Column("resolve_median", "dur"),
            Column("resolve_p90", "dur"),
            Column("dispositions", "counts"),
        ),
        [
            (
                a.kind,
                a.raised,
                a.acknowledged,
                a.resolved,
                a.still_open,
                a.ack_median_s,
                a.ack_p90_s,
                a.resolve_median_s,
                a.resolve_p90_s,
                a.dispositions,
            )
            for a in report.alarms
        ],
    )


def forwarding(report: MonthlyReport) -> Table:
    f = report.forwarding
    return Table(
        "forwarding",
        (
            Column("messages", "int"),
            Column("delivered", "int"),
            Column("within_2s", "int"),
            Column("pending", "int"),
            Column("unroutable", "int"),
            Column("latency_p50", "ms"),
            Column("latency_p95", "ms"),
            Column("latency_max", "ms"),
            Column("failed_attempts", "int"),
        ),
        [
            (
                f.messages,
                f.delivered,
                f.within_2s,
                f.pending,
                f.failed,
                f.latency_p50_ms,
                f.latency_p95_ms,
                f.latency_max_ms,
                f.failed_attempts,
            )
        ],
    )


def findings(report: MonthlyReport, words: Words) -> Table:
    zh = words.lang == "zh"
    return Table(
        "compliance",
        (
            Column("school"),
            Column("rule"),
            Column("subject"),
            Column("status", "word"),
            Column("severity", "word"),
            Column("evidence"),
            Column("source"),
        ),
        [
            (
                f.school_name,
                f"{f.rule_id} {f.text_zh if zh else f.text_en}",
                f.subject,
                f.status,
                f.severity,
                f.evidence + (f" [{', '.join(f.missing)}]" if f.missing else ""),
                f"{f.document} {f.clause}: “{f.quote}”",
            )
            for f in report.findings
        ],
        note="compliance_note",
    )


def all_tables(report: MonthlyReport, words: Words) -> list[Table]:
    """Every section, in the report's order."""
    return [
        schools(report),
        daily(report),
        longest_down(report),
        cameras_not_intact(report),
        repairs(report),
        alarms(report),
        forwarding(report),
        findings(report, words),
    ]
