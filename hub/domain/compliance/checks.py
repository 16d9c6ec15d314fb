"""The small library of pure checks a rule names. Each takes the profile, the rule (for its
parameters) and what the hub observes now (``None`` when the caller has no live data) and returns
findings; a check never passes on missing data.

Inventory checks read the profile alone; the checks in ``live`` read device states as well.
"""

from collections.abc import Callable
from datetime import date

from hub.domain.compliance import live
from hub.domain.compliance.model import Finding, Observed, Platform, Point, Rule, SchoolProfile, Status

Check = Callable[[SchoolProfile, Rule, Observed | None], list[Finding]]


def names(value: float | str | None) -> list[str]:
    """A parameter listing names: ``"a,b"`` → ``["a", "b"]``; ``"*"`` stays ``["*"]``."""
    return [v.strip() for v in str(value or "*").split(",") if v.strip()]


def points_of(profile: SchoolProfile, kind: str, location: str = "*") -> list[Point]:
    """The declared points of ``kind`` (``*``: any) at ``location`` (``*``: anywhere)."""
    return [p for p in profile.points if kind in ("*", p.kind) and location in ("*", p.location)]


def low_wall_fence(profile: SchoolProfile, rule: Rule, _: Observed | None) -> list[Finding]:
    """Every perimeter segment lower than ``min_height_m`` carries an electronic fence zone."""
    limit = float(rule.params.get("min_height_m", 2.0))
    if profile.perimeter is None:
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, "perimeter not surveyed", ("perimeter",))]
    if not profile.perimeter:
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, "no perimeter segment declared", ("perimeter",))]
    findings = []
    for seg in profile.perimeter:
        subject = f"segment:{seg.id}"
        if seg.wall_height_m is None:
            missing = (f"perimeter.{seg.id}.wall_height_m",)
            findings.append(Finding(rule.id, subject, Status.UNKNOWN, "wall height not surveyed", missing))
        elif seg.wall_height_m >= limit:
            findings.append(Finding(rule.id, subject, Status.PASS, f"wall {seg.wall_height_m:g} m ≥ {limit:g} m"))
        elif seg.fence_zone:
            evidence = f"wall {seg.wall_height_m:g} m, fence zone {seg.fence_zone}"
            findings.append(Finding(rule.id, subject, Status.PASS, evidence))
        else:
            evidence = f"wall {seg.wall_height_m:g} m < {limit:g} m and no fence zone"
            findings.append(Finding(rule.id, subject, Status.FAIL, evidence))
    return findings


def access_control_or_pickup_cards(profile: SchoolProfile, rule: Rule, _: Observed | None) -> list[Finding]:
    """An access-control point at the school, or a pick-up card system in use."""
    gates = [p.device_id for p in profile.points if p.kind == "access_gate"]
    if gates:
        return [Finding(rule.id, profile.school_id, Status.PASS, f"access control: {', '.join(gates)}")]
    if profile.pickup_cards:
        return [Finding(rule.id, profile.school_id, Status.PASS, "pick-up cards in use")]
    if profile.pickup_cards is None:
        missing = ("points (an access_gate)", "pickup_cards")
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, "no access control declared", missing)]
    return [Finding(rule.id, profile.school_id, Status.FAIL, "no access control and no pick-up cards")]


def networked_to_platform(profile: SchoolProfile, rule: Rule, _: Observed | None) -> list[Finding]:
    """Every point of ``kind`` (a list) at ``location`` is networked to ``platform``.

    ``platform: "*"`` accepts any platform, or the point's own ``required_platform`` when it names one.
    """
    kinds, location, wanted = names(rule.params["kind"]), str(rule.params.get("location", "*")), rule.params["platform"]
    points = [p for kind in kinds for p in points_of(profile, kind, location)]
    if not points:
        what = f"{'/'.join(kinds)} at {location}"
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, f"no {what} declared", (f"points ({what})",))]
    findings = []
    for point in points:
        if wanted == "*":
            links = [n for n in point.networked if point.required_platform in (None, n.platform)]
            target = str(point.required_platform or "a platform")
        else:
            links = [n for n in point.networked if n.platform == Platform(str(wanted))]
            target = str(wanted)
        if links:
            link = links[0]
            evidence = f"networked to {link.platform} ({link.how}{f' by {link.by}' if link.by else ''})"
            findings.append(Finding(rule.id, f"device:{point.device_id}", Status.PASS, evidence))
        else:
            findings.append(Finding(rule.id, f"device:{point.device_id}", Status.FAIL, f"not networked to {target}"))
    return findings


def devices_present(profile: SchoolProfile, rule: Rule, _: Observed | None) -> list[Finding]:
    """At least ``min_count`` (1) devices of each ``kind`` at each ``location`` (lists; ``*``: anywhere).

    A school that declares no device at all is unknown (its inventory was never entered), not failing.
    """
    if not profile.points:
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, "no devices declared", ("points",))]
    least = int(float(rule.params.get("min_count", 1)))
    findings = []
    for kind in names(rule.params["kind"]):
        for location in names(rule.params.get("location")):
            found = [p.device_id for p in points_of(profile, kind, location)]
            subject = f"{kind}@{location}"
            if len(found) >= least:
                findings.append(Finding(rule.id, subject, Status.PASS, f"{len(found)}: {', '.join(found)}"))
            else:
                where = "" if location == "*" else f" at {location}"
                evidence = f"{len(found)} {kind}{where}, {least} required"
                findings.append(Finding(rule.id, subject, Status.FAIL, evidence))
    return findings


def _size(value: str | float | None) -> tuple[int, int] | None:
    width, _, height = str(value or "").lower().partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def camera_floor(profile: SchoolProfile, rule: Rule, observed: Observed | None) -> list[Finding]:
    """Each camera (at ``location``) records at least ``min_resolution`` and keeps ``min_retention_days``.

    Read from the point's declared attributes, else from what the camera reports (its main stream's
    size, its recorder's ``retention_days``); a camera that states neither is unknown.
    """
    floor = _size(rule.params.get("min_resolution"))
    days = rule.params.get("min_retention_days")
    points = points_of(profile, "camera", str(rule.params.get("location", "*")))
    if not points:
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, "no camera declared", ("points (camera)",))]
    findings = []
    for point in points:
        subject, problems, missing, seen = f"device:{point.device_id}", [], [], []
        if floor is not None:
            size = _size(point.attributes.get("resolution")) or live.reported_size(observed, point.device_id)
            if size is None:
                missing.append(f"points.{point.device_id}.attributes.resolution")
            elif size[0] * size[1] < floor[0] * floor[1] or min(size) < min(floor):
                problems.append(f"{size[0]}x{size[1]} < {floor[0]}x{floor[1]}")
            else:
                seen.append(f"{size[0]}x{size[1]}")
        if days is not None:
            kept = point.attributes.get("retention_days")
            if not isinstance(kept, int | float):
                kept = live.reported(observed, point.device_id, "retention_days")
            if kept is None:
                missing.append(f"points.{point.device_id}.attributes.retention_days")
            elif kept < float(days):
                problems.append(f"kept {kept:g} d < {float(days):g} d")
            else:
                seen.append(f"kept {kept:g} d")
        if problems:
            findings.append(Finding(rule.id, subject, Status.FAIL, "; ".join(problems)))
        elif missing:
            findings.append(Finding(rule.id, subject, Status.UNKNOWN, "not declared", tuple(missing)))
        else:
            findings.append(Finding(rule.id, subject, Status.PASS, ", ".join(seen)))
    return findings


CHECKS: dict[str, Check] = {
    "low_wall_fence": low_wall_fence,
    "access_control_or_pickup_cards": access_control_or_pickup_cards,
    "networked_to_platform": networked_to_platform,
    "devices_present": devices_present,
    "camera_floor": camera_floor,
    "devices_working": live.devices_working,
    "repair_within": live.repair_within,
    "link_tested_within": live.link_tested_within,
    "video_patrol_kept": live.video_patrol_kept,
}

# These read ``Observed``
LIVE_CHECKS = frozenset({"devices_working", "repair_within", "link_tested_within", "video_patrol_kept"})


def in_scope(profile: SchoolProfile, rule: Rule, today: date | None) -> Finding | bool:
    """Whether the rule binds the school (and on ``today``), or the unknown finding when that cannot be told."""
    if today is not None and rule.in_force_from is not None and today < rule.in_force_from:
        return False
    if today is not None and rule.in_force_until is not None and today > rule.in_force_until:
        return False
    if rule.school_types is not None:
        if profile.type is None:
            return Finding(rule.id, profile.school_id, Status.UNKNOWN, "school type not declared", ("type",))
        if profile.type not in rule.school_types:
            return False
    if rule.boarding is not None:
        if profile.boarding is None:
            return Finding(rule.id, profile.school_id, Status.UNKNOWN, "boarding not declared", ("boarding",))
        if profile.boarding is not rule.boarding:
            return False
    return True


def evaluate(
    profile: SchoolProfile, rules: list[Rule], observed: Observed | None = None, today: date | None = None
) -> list[Finding]:
    """Every rule that binds the school, judged. A rule scoped to other schools (type, boarding) or
    to other dates is skipped; one whose scope cannot be told (the type not declared) is ``unknown``.
    ``today`` is the school's local date (None: dates are not checked)."""
    findings: list[Finding] = []
    for rule in rules:
        scope = in_scope(profile, rule, today)
        if isinstance(scope, Finding):
            findings.append(scope)
        elif scope:
            findings += CHECKS[rule.check](profile, rule, observed)
    return findings
