"""联网率 and 达标率: the bureaus' two compliance rates, from findings and the devices' states.

Pure. Definitions (docs/compliance.md, research/rates-and-peers.md):

- A **required point** is a device some rule requires on a platform (a ``networked_to_platform``
  finding about it) or whose profile names a ``required_platform``. It is **networked** when every
  such requirement passes.
- **联网率** = networked points ÷ required points (device-weighted when schools are summed). A school
  that declares no required point has no 联网率 (``None``), never 100 %.
- A school is **达标** (compliant) when every rule passes and every device it declares is online (or
  degraded: it answers). Any failing rule or offline point makes it not 达标; otherwise any unknown
  (a rule without its data, a point never heard from) leaves it unknown, which is never counted as
  达标. **达标率** = 达标 schools ÷ schools, with the unknown ones counted apart.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.domain.compliance.model import Finding, SchoolProfile, Status
from hub.domain.rates import UP

NETWORK_CHECK = "networked_to_platform"


@dataclass(frozen=True, slots=True)
class SchoolKpis:
    school_id: str
    required: int
    networked: int
    compliant: bool | None  # None: unknown (data missing), never counted as 达标
    reasons: tuple[str, ...]  # why not 达标, or what is unknown

    @property
    def networking_rate(self) -> float | None:
        return self.networked / self.required if self.required else None


def school_kpis(
    profile: SchoolProfile,
    findings: Iterable[Finding],
    checks_of: Mapping[str, str],
    availability: Mapping[str, str],
) -> SchoolKpis:
    """One school's KPIs. ``checks_of`` maps rule id to its check; ``availability`` device id to state."""
    findings = list(findings)
    verdicts: dict[str, list[Status]] = {}
    for f in findings:
        if checks_of.get(f.rule_id) == NETWORK_CHECK and f.subject.startswith("device:"):
            verdicts.setdefault(f.subject.removeprefix("device:"), []).append(f.status)
    unlinked = []
    for point in profile.points:
        if point.required_platform is not None:
            linked = any(n.platform == point.required_platform for n in point.networked)
            verdicts.setdefault(point.device_id, []).append(Status.PASS if linked else Status.FAIL)
            if not linked:
                unlinked.append(f"{point.device_id} not networked to {point.required_platform}")
    networked = sum(1 for statuses in verdicts.values() if all(s is Status.PASS for s in statuses))
    failing = [f"{f.rule_id} {f.subject}" for f in findings if f.status is Status.FAIL] + unlinked
    unknown = [
        f"{f.rule_id} {f.subject}: {', '.join(f.missing) or f.evidence}" for f in findings if f.status is Status.UNKNOWN
    ]
    declared = sorted({p.device_id for p in profile.points} | set(verdicts))
    down = [f"{d} offline" for d in declared if availability.get(d) == "offline"]
    never = [f"{d} never heard from" for d in declared if availability.get(d, "unknown") not in (*UP, "offline")]
    if failing or down:
        return SchoolKpis(profile.school_id, len(verdicts), networked, False, tuple(failing + down))
    if unknown or never:
        return SchoolKpis(profile.school_id, len(verdicts), networked, None, tuple(unknown + never))
    return SchoolKpis(profile.school_id, len(verdicts), networked, True, ())


@dataclass(frozen=True, slots=True)
class KpiTotal:
    schools: int
    compliant: int
    not_compliant: int
    unknown: int
    required: int
    networked: int

    @property
    def compliance_rate(self) -> float | None:
        """达标率: 达标 schools over all schools judged (unknown ones in the denominator, not the numerator)."""
        return self.compliant / self.schools if self.schools else None

    @property
    def networking_rate(self) -> float | None:
        """联网率 over every school's required points."""
        return self.networked / self.required if self.required else None


def unprofiled(school_id: str) -> SchoolKpis:
    """A school with no profile: nothing can be judged, so it is unknown, not 达标."""
    return SchoolKpis(school_id, 0, 0, None, ("no school profile",))


def total(schools: Iterable[SchoolKpis]) -> KpiTotal:
    rows = list(schools)
    return KpiTotal(
        schools=len(rows),
        compliant=sum(1 for s in rows if s.compliant is True),
        not_compliant=sum(1 for s in rows if s.compliant is False),
        unknown=sum(1 for s in rows if s.compliant is None),
        required=sum(s.required for s in rows),
        networked=sum(s.networked for s in rows),
    )
