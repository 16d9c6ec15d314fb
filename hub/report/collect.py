"""A monthly report from the hub's database: rates, outages, repairs, alarms, forwarding, findings.

Each school's month is cut in its own time zone. Nothing here reads the clock except through
``now``, which only cuts a month that is not over yet: a past month gives the same report each time.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compliance.judge import Judged, judge
from hub.compliance.kpis import device_states, kpis_from
from hub.db.models import Alarm, School
from hub.domain.compliance.kpis import SchoolKpis, total
from hub.domain.rates import Tally, tally_by_day
from hub.domain.repairs import Outage, RepairSummary, outages, percentile
from hub.forwarding.models import Attempt, OutboxRow
from hub.rates import History, device_facts, device_histories
from hub.report.model import (
    AlarmLine,
    DeviceLine,
    FindingLine,
    ForwardingLine,
    Month,
    MonthlyReport,
    NotVisible,
    RepairLine,
    ReportError,
    SchoolLine,
    Scope,
    UnknownScope,
)
from hub.settings import HubSettings

TOP = 20  # lines in each "worst first" list
POLICE_DEADLINE_MS = 2000  # every panic alarm at the police within 2 s


@dataclass
class _Acc:
    """What one pass over the devices gathers."""

    days: dict[str, dict[str, Tally]] = field(default_factory=lambda: defaultdict(dict))
    devices: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cameras: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    lines: list[DeviceLine] = field(default_factory=list)
    spells: list[tuple[DeviceLine, Outage, datetime]] = field(default_factory=list)


def scope_schools(settings: HubSettings, scope: Scope, seen: Iterable[str]) -> list[str]:
    """The schools a scope covers: the directory's, and for the city every school ever heard from too."""
    listed = {s.id: s for s in settings.schools}
    if scope.kind == "city":
        return sorted(set(listed) | set(seen))
    if scope.kind == "district":
        found = sorted(s.id for s in settings.schools if s.district == scope.id)
        if not found:
            raise UnknownScope(f"district {scope.id!r} has no schools in the directory (hub.yaml schools)")
        return found
    if scope.id not in listed and scope.id not in set(seen):
        raise UnknownScope(f"school {scope.id!r} is neither in the directory nor heard from")
    return [str(scope.id)]


def scope_name(settings: HubSettings, scope: Scope) -> str:
    if scope.kind == "district":
        return next((d.name or d.id for d in settings.districts if d.id == scope.id), str(scope.id))
    if scope.kind == "school":
        return next((s.name or s.id for s in settings.schools if s.id == scope.id), str(scope.id))
    return ""


def build(
    session: Session,
    settings: HubSettings,
    *,
    scope: Scope,
    month: Month,
    now: datetime,
    allowed: Callable[[str], bool] = lambda _school: True,
) -> MonthlyReport:
    """The month's report on every school of ``scope``; NotVisible if ``allowed`` refuses one of them."""
    schools = scope_schools(settings, scope, session.scalars(select(School.id)))
    hidden = [s for s in schools if not allowed(s)]
    if hidden:
        raise (NotVisible if len(hidden) < len(schools) else UnknownScope)(
            f"{scope}: {len(hidden)} of its {len(schools)} schools are outside your account's scope"
            if len(hidden) < len(schools)
            else f"{scope}: not in your account's scope"
        )
    tz = settings.school_tz(scope.id) if scope.kind == "school" and scope.id else settings.school_tz("")
    start, end = month.range_in(tz)
    if start >= now:
        raise ReportError(f"{month} has not begun in {tz.key}")
    names, acc, ranges = {s.id: s.name or s.id for s in settings.schools}, _Acc(), {}
    for school in schools:
        s0, s1 = month.range_in(settings.school_tz(school))
        ranges[school] = (s0, min(s1, now))
    for (s0, s1), group in _groups(ranges).items():
        _devices(session, settings, schools=group, start=s0, end=s1, names=names, acc=acc)
    alarms = _alarms(session, ranges)
    # Inventory rules on the month's last day; not live ones, which would change a past month (decision 58).
    judged = judge(session, settings, schools, min(end, now) - timedelta(microseconds=1), live=False)
    kpis = kpis_from(judged, device_states(session, schools), schools)
    findings = _findings(judged, names)
    lines = _with_kpis(_school_lines(settings, schools, acc, alarms, _rule_counts(findings)), kpis)
    return MonthlyReport(
        scope=scope,
        scope_name=scope_name(settings, scope),
        month=month,
        timezone=tz.key,
        start=start,
        end=min(end, now),
        complete=end <= now,
        schools=lines,
        total=sum((s.all_devices for s in lines), Tally()),
        cameras=sum((s.cameras for s in lines), Tally()),
        trend=_trend(acc),
        longest_down=sorted(
            (d for d in acc.lines if d.tally.offline_s > 0), key=lambda d: (-d.tally.offline_s, d.device_id)
        )[:TOP],
        cameras_not_intact=sorted(
            (d for d in acc.lines if d.kind == "camera" and (d.tally.intact_rate or 0) < 1 and d.tally.known_s > 0),
            key=lambda d: (d.tally.intact_rate or 0, d.school_id, d.device_id),
        )[:TOP],
        repairs=_repair_summary(acc, ranges),
        worst_repairs=_worst_repairs(acc),
        alarms=_alarm_lines(alarms),
        forwarding=_forwarding(session, ranges),
        findings=findings,
        kpis=total(kpis),
    )


def _groups(ranges: dict[str, tuple[datetime, datetime]]) -> dict[tuple[datetime, datetime], list[str]]:
    """Schools that share a month range (a time zone) are read together."""
    groups: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
    for school, span in sorted(ranges.items()):
        groups[span].append(school)
    return groups


def _devices(
    session: Session,
    settings: HubSettings,
    *,
    schools: list[str],
    start: datetime,
    end: datetime,
    names: dict[str, str],
    acc: _Acc,
) -> None:
    facts = device_facts(session, schools)
    for key, history in device_histories(session, sorted(facts), start, end):
        kind, location = facts[key]
        days = tally_by_day(history.initial, history.changes, start, end, tz=settings.school_tz(key[0]))
        whole = sum((d.tally for d in days), Tally())
        for d in days:
            per_school = acc.days[key[0]]
            per_school[d.day.isoformat()] = per_school.get(d.day.isoformat(), Tally()) + d.tally
        acc.devices[key[0]] += 1
        if kind == "camera":
            acc.cameras[key[0]] = acc.cameras[key[0]] + whole
        spells = _spells(history, start, end)
        line = DeviceLine(
            school_id=key[0],
            school_name=names.get(key[0], key[0]),
            device_id=key[1],
            kind=kind,
            location=location,
            tally=whole,
            longest_outage_s=max((o.duration(end).total_seconds() for o in spells), default=0.0),
        )
        acc.lines.append(line)
        acc.spells += [(line, o, end) for o in spells]


def _spells(history: History, start: datetime, end: datetime) -> list[Outage]:
    return outages(history.initial, history.initial_at, history.changes, start, end)


def _trend(acc: _Acc) -> list[tuple[str, Tally]]:
    days: dict[str, Tally] = defaultdict(Tally)
    for per_school in acc.days.values():
        for day, t in per_school.items():
            days[day] = days[day] + t
    return sorted(days.items())


def _repair_summary(acc: _Acc, ranges: dict[str, tuple[datetime, datetime]]) -> RepairSummary:
    """Outages that began in the month, each school's month cut in its own zone."""
    began = [o for line, o, _ in acc.spells if o.start >= ranges[line.school_id][0]]
    start = min(r[0] for r in ranges.values())
    until = max(r[1] for r in ranges.values())
    return RepairSummary.of(began, start, until)


def _worst_repairs(acc: _Acc) -> list[RepairLine]:
    lines = [
        RepairLine(
            school_id=line.school_id,
            school_name=line.school_name,
            device_id=line.device_id,
            kind=line.kind,
            location=line.location,
            down_at=o.start,
            up_at=o.end,
            hours=o.duration(until).total_seconds() / 3600,
            overdue=o.overdue(until),
        )
        for line, o, until in acc.spells
        if o.overdue(until)
    ]
    return sorted(lines, key=lambda r: (-r.hours, r.school_id, r.device_id))[:TOP]


def _alarms(session: Session, ranges: dict[str, tuple[datetime, datetime]]) -> list[Alarm]:
    found: list[Alarm] = []
    for (start, end), group in _groups(ranges).items():
        found += session.scalars(
            select(Alarm)
            .where(Alarm.school_id.in_(group), Alarm.raised_at >= start, Alarm.raised_at < end)
            .order_by(Alarm.raised_at, Alarm.id)
        )
    return found


def _seconds(later: datetime | None, alarm: Alarm) -> float | None:
    if later is None:
        return None
    return max(0.0, (later - (alarm.received_at or alarm.raised_at)).total_seconds())


def _alarm_lines(alarms: list[Alarm]) -> list[AlarmLine]:
    by_kind: dict[str, list[Alarm]] = defaultdict(list)
    for alarm in alarms:
        by_kind[alarm.kind].append(alarm)
    lines = []
    for kind, group in by_kind.items():
        acks = sorted(s for a in group if (s := _seconds(a.acknowledged_at, a)) is not None)
        resolves = sorted(s for a in group if (s := _seconds(a.resolved_at, a)) is not None)
        lines.append(
            AlarmLine(
                kind=kind,
                raised=len(group),
                acknowledged=sum(1 for a in group if a.acknowledged_at is not None),
                resolved=sum(1 for a in group if a.resolved_at is not None),
                still_open=sum(1 for a in group if a.resolved_at is None),
                ack_median_s=statistics.median(acks) if acks else None,
                ack_p90_s=percentile(acks, 0.9),
                resolve_median_s=statistics.median(resolves) if resolves else None,
                resolve_p90_s=percentile(resolves, 0.9),
                dispositions=_dispositions(group),
            )
        )
    return sorted(lines, key=lambda line: (-line.raised, line.kind))


def _dispositions(alarms: list[Alarm]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = defaultdict(int)
    for alarm in alarms:
        if alarm.resolved_at is not None:
            counts[alarm.disposition or "unsaid"] += 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _forwarding(session: Session, ranges: dict[str, tuple[datetime, datetime]]) -> ForwardingLine:
    rows: list[OutboxRow] = []
    for (start, end), group in _groups(ranges).items():
        rows += session.scalars(
            select(OutboxRow).where(
                OutboxRow.school_id.in_(group),
                OutboxRow.restore.is_(False),
                OutboxRow.created_at >= start,
                OutboxRow.created_at < end,
            )
        )
    latencies = sorted(
        (r.delivered_at - r.created_at).total_seconds() * 1000 for r in rows if r.delivered_at is not None
    )
    failed_attempts = 0
    ids = [r.id for r in rows]
    for chunk in range(0, len(ids), 500):
        failed_attempts += len(
            session.scalars(
                select(Attempt.id).where(Attempt.outbox_id.in_(ids[chunk : chunk + 500]), Attempt.result != "ack")
            ).all()
        )
    return ForwardingLine(
        messages=len(rows),
        delivered=len(latencies),
        pending=sum(1 for r in rows if r.state == "pending"),
        failed=sum(1 for r in rows if r.state == "unroutable"),
        within_2s=sum(1 for ms in latencies if ms <= POLICE_DEADLINE_MS),
        latency_p50_ms=statistics.median(latencies) if latencies else None,
        latency_p95_ms=percentile(latencies, 0.95),
        latency_max_ms=latencies[-1] if latencies else None,
        failed_attempts=failed_attempts,
    )


def _findings(judged: Mapping[str, Judged], names: dict[str, str]) -> list[FindingLine]:
    """The rules that do not pass (fail, then unknown), as the profiles stand now."""
    out = []
    for school, j in judged.items():
        by_id = {r.id: r for r in j.rules}
        for f in j.findings:
            if f.status.value == "pass":
                continue
            rule = by_id[f.rule_id]
            out.append(
                FindingLine(
                    school_id=school, school_name=names.get(school, school),
                    rule_id=f.rule_id, subject=f.subject, status=f.status.value, severity=rule.severity,
                    text_zh=rule.text_zh, text_en=rule.text_en, evidence=f.evidence, missing=tuple(f.missing),
                    document=rule.source.document, clause=rule.source.clause, quote=rule.source.quote,
                )
            )  # fmt: skip
    order = {"critical": 0, "major": 1, "minor": 2}
    return sorted(out, key=lambda f: (f.status != "fail", order.get(f.severity, 3), f.school_id, f.rule_id, f.subject))


def _rule_counts(findings: list[FindingLine]) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for f in findings:
        failing, unknown = counts.get(f.school_id, (0, 0))
        counts[f.school_id] = (failing + (f.status == "fail"), unknown + (f.status == "unknown"))
    return counts


def _school_lines(
    settings: HubSettings,
    schools: list[str],
    acc: _Acc,
    alarms: list[Alarm],
    rules: dict[str, tuple[int, int]],
) -> list[SchoolLine]:
    entries = {s.id: s for s in settings.schools}
    districts = {d.id: d.name or d.id for d in settings.districts}
    raised: dict[str, int] = defaultdict(int)
    panic: dict[str, int] = defaultdict(int)
    for alarm in alarms:
        raised[alarm.school_id] += 1
        panic[alarm.school_id] += alarm.kind == "panic"
    lines = []
    for school in schools:
        entry = entries.get(school)
        days = dict(sorted(acc.days.get(school, {}).items()))
        lines.append(
            SchoolLine(
                school_id=school, name=entry.name if entry and entry.name else school,
                district=districts.get(entry.district or "", entry.district) if entry else None,
                devices=acc.devices.get(school, 0), rank=None,
                all_devices=sum(days.values(), Tally()), cameras=acc.cameras.get(school, Tally()), days=days,
                alarms=raised[school], panic=panic[school], failing_rules=rules.get(school, (0, 0))[0],
                unknown_rules=rules.get(school, (0, 0))[1],
            )
        )  # fmt: skip
    ranked = sorted((s for s in lines if s.all_devices.online_rate is not None), key=_rank_key)
    rank = {s.school_id: n for n, s in enumerate(ranked, 1)}
    lines = [_with_rank(s, rank.get(s.school_id)) for s in lines]
    return sorted(lines, key=lambda s: (s.rank is None, s.rank or 0, s.school_id))


def _with_kpis(lines: list[SchoolLine], kpis: list[SchoolKpis]) -> list[SchoolLine]:
    by_school = {k.school_id: k for k in kpis}
    return [
        replace(
            line,
            networking_rate=by_school[line.school_id].networking_rate,
            compliant=by_school[line.school_id].compliant,
        )
        for line in lines
    ]


def _rank_key(s: SchoolLine) -> tuple[float, float, str]:
    return (-(s.all_devices.online_rate or 0), -(s.all_devices.intact_rate or 0), s.school_id)


def _with_rank(line: SchoolLine, rank: int | None) -> SchoolLine:
    return replace(line, rank=rank)
