"""The small library of pure checks a rule names. Each takes the profile and the rule (for its
parameters) and returns findings; a check never passes on missing data."""

from collections.abc import Callable

from hub.domain.compliance.model import Finding, Platform, Rule, SchoolProfile, Status

Check = Callable[[SchoolProfile, Rule], list[Finding]]


def low_wall_fence(profile: SchoolProfile, rule: Rule) -> list[Finding]:
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


def access_control_or_pickup_cards(profile: SchoolProfile, rule: Rule) -> list[Finding]:
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


def networked_to_platform(profile: SchoolProfile, rule: Rule) -> list[Finding]:
    """Every point of ``kind`` at ``location`` (``*``: any) is networked to ``platform``."""
    kind, location = str(rule.params["kind"]), str(rule.params.get("location", "*"))
    platform = Platform(str(rule.params["platform"]))
    points = [p for p in profile.points if p.kind == kind and location in ("*", p.location)]
    if not points:
        missing = (f"points ({kind} at {location})",)
        return [Finding(rule.id, profile.school_id, Status.UNKNOWN, f"no {kind} declared at {location}", missing)]
    findings = []
    for point in points:
        links = [n for n in point.networked if n.platform == platform]
        if links:
            link = links[0]
            evidence = f"networked to {platform} ({link.how}{f' by {link.by}' if link.by else ''})"
            findings.append(Finding(rule.id, f"device:{point.device_id}", Status.PASS, evidence))
        else:
            evidence = f"not networked to {platform}"
            findings.append(Finding(rule.id, f"device:{point.device_id}", Status.FAIL, evidence))
    return findings


CHECKS: dict[str, Check] = {
    "low_wall_fence": low_wall_fence,
    "access_control_or_pickup_cards": access_control_or_pickup_cards,
    "networked_to_platform": networked_to_platform,
}


def evaluate(profile: SchoolProfile, rules: list[Rule]) -> list[Finding]:
    """Every rule that applies to the school, judged; a rule scoped to other school types is skipped,
    and one whose scope needs the school's type while it is not declared is ``unknown``."""
    findings: list[Finding] = []
    for rule in rules:
        if rule.school_types is not None:
            if profile.type is None:
                findings.append(
                    Finding(rule.id, profile.school_id, Status.UNKNOWN, "school type not declared", ("type",))
                )
                continue
            if profile.type not in rule.school_types:
                continue
        findings += CHECKS[rule.check](profile, rule)
    return findings
