"""Checks that read what the hub observes now (``Observed``): devices working, repaired in time, links tested.

Pure, like the inventory checks. Without observations (``None``) every finding is ``unknown``: a
profile alone cannot say whether a device works.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from hub.domain.compliance.model import DeviceState, Finding, Observed, Point, Rule, SchoolProfile, Status

UP = ("online",)
DOWN = ("offline", "degraded")
NO_STATES = "device states not available"


def _points(profile: SchoolProfile, kind: str) -> list[Point]:
    kinds = [k.strip() for k in kind.split(",")]
    return [p for p in profile.points if "*" in kinds or p.kind in kinds]


def _hours(since: datetime, at: datetime) -> float:
    return max((at - since).total_seconds(), 0.0) / 3600


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _state(observed: Observed, point: Point) -> DeviceState | None:
    state = observed.devices.get(point.device_id)
    return None if state is None or state.availability not in (*UP, *DOWN) else state


def _unknown_device(rule: Rule, point: Point) -> Finding:
    missing = (f"state of {point.device_id}",)
    return Finding(rule.id, f"device:{point.device_id}", Status.UNKNOWN, "never heard from", missing)


def _common(profile: SchoolProfile, rule: Rule, observed: Observed | None, kind: str) -> list[Point] | Finding:
    if observed is None:
        return Finding(rule.id, profile.school_id, Status.UNKNOWN, NO_STATES, ("device states",))
    points = _points(profile, kind)
    if not points:
        return Finding(rule.id, profile.school_id, Status.UNKNOWN, f"no {kind} declared", (f"points ({kind})",))
    return points


def _down(state: DeviceState) -> str:
    return f"{state.availability}{f' ({state.reason})' if state.reason else ''}"


def _each_device(
    profile: SchoolProfile, rule: Rule, observed: Observed | None, up: str, judge_down: "DownJudge"
) -> list[Finding]:
    """Judge each declared device of the rule's ``kind``: never heard from is unknown, working is a
    pass (``up`` the evidence), and a device down since a known time is what ``judge_down`` says."""
    points = _common(profile, rule, observed, str(rule.params.get("kind", "*")))
    if isinstance(points, Finding):
        return [points]
    assert observed is not None
    findings = []
    for point in points:
        state = _state(observed, point)
        subject = f"device:{point.device_id}"
        if state is None:
            findings.append(_unknown_device(rule, point))
        elif state.availability in UP:
            findings.append(Finding(rule.id, subject, Status.PASS, up))
        elif state.since is None:
            findings.append(Finding(rule.id, subject, Status.UNKNOWN, f"{_down(state)}, since unknown", ("since",)))
        else:
            status, evidence = judge_down(state, _hours(state.since, observed.at))
            findings.append(Finding(rule.id, subject, status, evidence))
    return findings


DownJudge = Callable[[DeviceState, float], tuple[Status, str]]  # (state, hours down) -> verdict


def devices_working(profile: SchoolProfile, rule: Rule, observed: Observed | None) -> list[Finding]:
    """Every declared device of ``kind`` works: online and, for a camera, with a usable image (完好).

    A device offline, or degraded (a covered, frozen or black camera; a box answering with errors),
    for longer than ``grace_s`` fails with what is wrong and since when.
    """
    grace_h = float(rule.params.get("grace_s", 0)) / 3600

    def judge(state: DeviceState, down_h: float) -> tuple[Status, str]:
        since = f"{_down(state)} since {_stamp(state.since)}" if state.since else _down(state)
        if down_h <= grace_h:
            return Status.PASS, f"{since}, within {grace_h * 60:g} min of grace"
        return Status.FAIL, since

    return _each_device(profile, rule, observed, "online", judge)


def repair_within(profile: SchoolProfile, rule: Rule, observed: Observed | None) -> list[Finding]:
    """A device of ``kind`` that stopped working is working again within ``hours`` (GB/T 29315: 24 h)."""
    limit = float(rule.params.get("hours", 24))

    def judge(state: DeviceState, down_h: float) -> tuple[Status, str]:
        if down_h > limit:
            return Status.FAIL, f"{_down(state)} for {down_h:.1f} h, over the {limit:g} h to repair"
        return Status.PASS, f"{_down(state)} for {down_h:.1f} h, {limit - down_h:.1f} h left to repair"

    return _each_device(profile, rule, observed, "working", judge)


def link_tested_within(profile: SchoolProfile, rule: Rule, observed: Observed | None) -> list[Finding]:
    """Each device of ``kind`` reached ``platform`` end to end within ``days``: an alarm or a test
    the hub forwarded and the receiver acknowledged, or a ``forwarding_test`` the profile records."""
    points = _common(profile, rule, observed, str(rule.params.get("kind", "one_click_alarm")))
    if isinstance(points, Finding):
        return [points]
    assert observed is not None
    days, platform = float(rule.params.get("days", 90)), str(rule.params.get("platform", "police"))
    findings = []
    for point in points:
        subject = f"device:{point.device_id}"
        tests = [
            datetime(n.at.year, n.at.month, n.at.day, tzinfo=UTC)
            for n in point.networked
            if n.how == "forwarding_test" and n.platform == platform and n.at is not None
        ]
        if point.device_id in observed.forwarded:
            tests.append(observed.forwarded[point.device_id])
        if not tests:
            findings.append(Finding(rule.id, subject, Status.FAIL, f"no end-to-end test to {platform} recorded"))
            continue
        last = max(tests)
        age = _hours(last, observed.at) / 24
        verdict = Status.PASS if age <= days else Status.FAIL
        evidence = f"last reached {platform} {_stamp(last)} ({age:.0f} d ago; every {days:g} d required)"
        findings.append(Finding(rule.id, subject, verdict, evidence))
    return findings


def video_patrol_kept(profile: SchoolProfile, rule: Rule, observed: Observed | None) -> list[Finding]:
    """An online video patrol (网上巡查) is set up for the school's cameras and kept: a plan looks at
    them, and none of its rounds in the last 24 h was missed."""
    school = profile.school_id
    if observed is None or observed.patrols is None:
        return [Finding(rule.id, school, Status.UNKNOWN, "patrol records not available", ("patrol records",))]
    if not observed.patrols:
        return [Finding(rule.id, school, Status.FAIL, "no video patrol plan looks at this school's cameras")]
    names = ", ".join(p.plan for p in observed.patrols)
    owed, done = sum(p.owed for p in observed.patrols), sum(p.done for p in observed.patrols)
    missed = [p for p in observed.patrols if p.missed]
    if missed:
        firsts = [p.first_missed for p in missed if p.first_missed is not None]
        since = f" (first {_stamp(min(firsts))})" if firsts else ""
        count = sum(p.missed for p in missed)
        evidence = f"{count} of {owed} rounds missed in the last 24 h{since}; plans: {names}"
        return [Finding(rule.id, school, Status.FAIL, evidence)]
    return [Finding(rule.id, school, Status.PASS, f"{done} of {owed} rounds done in the last 24 h; plans: {names}")]


def reported(observed: Observed | None, device_id: str, *names: str) -> float | None:
    """The first of ``names`` the device reports as a positive number (a camera's ``retention_days``)."""
    state = observed.devices.get(device_id) if observed else None
    for name in names:
        value = state.metrics.get(name) if state else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def reported_size(observed: Observed | None, device_id: str) -> tuple[int, int] | None:
    """The recorded picture size a camera reports (its main stream's, else the analysed stream's)."""
    for w, h in (("main_width", "main_height"), ("width", "height")):
        width, height = reported(observed, device_id, w), reported(observed, device_id, h)
        if width is not None and height is not None:
            return int(width), int(height)
    return None
