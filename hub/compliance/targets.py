"""Targets with a deadline ("kindergartens' one-click alarms and cameras 联网达标率 100 % by the end of
2021"): where each district stands on them, whether the deadline has passed or not.

A target is a rule with ``in_force_from`` (the day after its deadline). It is judged here whatever
the date, so a bureau sees its progress before the deadline; a school meets it when every finding
of the rule passes, misses it on any failure, and is unknown otherwise (never counted as met).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from hub.compliance.files import configured, rules_of
from hub.compliance.observe import local_day, observed_of
from hub.compliance.stored import profiles_of
from hub.domain.compliance.checks import evaluate
from hub.domain.compliance.model import Rule, Status
from hub.settings import HubSettings


@dataclass
class Standing:
    """How many schools a target binds in one district, and how many meet it."""

    district: str | None
    bound: int = 0
    met: int = 0
    missed: int = 0
    unknown: int = 0
    missed_schools: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Met ÷ bound; unknown schools are in the denominator, never the numerator."""
        return self.met / self.bound if self.bound else None


@dataclass
class Target:
    """One rule with a deadline, and each district's standing on it."""

    rule: Rule
    deadline: date
    past: bool  # the deadline has passed (in the hub's time zone)
    districts: dict[str | None, Standing] = field(default_factory=dict)


def targets(session: Session, settings: HubSettings, schools: Iterable[str], now: datetime) -> list[Target]:
    """Every target binding some of ``schools`` (the caller's scope), by district, judged now."""
    wanted = set(schools)
    profiles = [p for p in profiles_of(session, settings) if p.school_id in wanted]
    observed = observed_of(session, [p.school_id for p in profiles], now)
    district_of = configured(settings).district_of
    hub_day = local_day(now, settings.school_tz(""))
    found: dict[str, Target] = {}
    for profile in profiles:
        today = local_day(now, settings.school_tz(profile.school_id))
        for rule in rules_of(settings, profile):
            if rule.in_force_from is None:
                continue
            undated = replace(rule, in_force_from=None, in_force_until=None)  # progress before the deadline too
            findings = evaluate(profile, [undated], observed.get(profile.school_id), today)
            if not findings:
                continue  # the rule does not bind this school (its type, boarding)
            target = found.setdefault(
                rule.id, Target(rule, rule.in_force_from - timedelta(days=1), hub_day >= rule.in_force_from)
            )
            district = district_of.get(profile.school_id)
            standing = target.districts.setdefault(district, Standing(district))
            standing.bound += 1
            statuses = {f.status for f in findings}
            if Status.FAIL in statuses:
                standing.missed += 1
                standing.missed_schools.append(profile.school_id)
            elif statuses == {Status.PASS}:
                standing.met += 1
            else:
                standing.unknown += 1
    return sorted(found.values(), key=lambda t: (t.deadline, t.rule.id))


def total(target: Target) -> Standing:
    """The target's standing over every district."""
    out = Standing(None)
    for s in target.districts.values():
        out.bound, out.met, out.missed, out.unknown = (
            out.bound + s.bound, out.met + s.met, out.missed + s.missed, out.unknown + s.unknown,
        )  # fmt: skip
    return out
