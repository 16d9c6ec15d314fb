"""Judge schools now: each profiled school's rules (its packs, its district's overrides) against its
profile and what the hub observes, on the school's own date."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from hub.compliance.files import rules_of
from hub.compliance.observe import Metrics, local_day, observed_of
from hub.compliance.stored import profiles_of
from hub.domain.compliance.checks import LIVE_CHECKS, evaluate
from hub.domain.compliance.model import Finding, Observed, Rule, SchoolProfile
from hub.patrols.kept import patrols_kept
from hub.settings import HubSettings


@dataclass(frozen=True)
class Judged:
    """One school's profile, the rules it is judged by, their findings, and what was observed (live)."""

    profile: SchoolProfile
    rules: tuple[Rule, ...]
    findings: list[Finding]
    observed: Observed | None = None


def judge(
    session: Session,
    settings: HubSettings,
    schools: Iterable[str] | None,
    now: datetime,
    metrics: Metrics | None = None,
    *,
    live: bool = True,
) -> dict[str, Judged]:
    """The profiled schools among ``schools`` (None: all), judged. ``live=False`` leaves out the rules
    about working devices (a report of a past month must not change with today's states)."""
    profiles = profiles_of(session, settings)
    wanted = None if schools is None else set(schools)
    chosen = [p for p in profiles if wanted is None or p.school_id in wanted]
    observed = observed_of(session, [p.school_id for p in chosen], now, metrics) if live else {}
    if live:
        patrols = patrols_kept(session, settings, observed, now)
        observed = {school: replace(seen, patrols=patrols[school]) for school, seen in observed.items()}
    out = {}
    for profile in chosen:
        rules = rules_of(settings, profile)
        if not live:
            rules = tuple(r for r in rules if r.check not in LIVE_CHECKS)
        today = local_day(now, settings.school_tz(profile.school_id))
        seen = observed.get(profile.school_id)
        out[profile.school_id] = Judged(profile, rules, evaluate(profile, list(rules), seen, today), seen)
    return out
