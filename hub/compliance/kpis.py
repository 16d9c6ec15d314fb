"""联网率 and 达标率 of some schools, from their profiles, the rule packs and the devices' states now
(the database adapter of ``hub.domain.compliance.kpis``)."""

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compliance.files import configured
from hub.db.models import Device
from hub.domain.compliance.checks import evaluate
from hub.domain.compliance.kpis import SchoolKpis, school_kpis, unprofiled
from hub.settings import HubSettings


def kpis_of(session: Session, settings: HubSettings, schools: Iterable[str]) -> list[SchoolKpis]:
    """Each school's KPIs, in the order given; a school without a profile is unknown."""
    wanted = list(dict.fromkeys(schools))
    profiles, rules = configured(settings.compliance)
    by_school = {p.school_id: p for p in profiles}
    checks_of = {r.id: r.check for r in rules}
    states: dict[str, dict[str, str]] = defaultdict(dict)
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Device.school_id, Device.id, Device.availability).where(
                Device.school_id.in_(wanted[start : start + 500])
            )
        )
        for school, device, availability in rows:
            states[school][device] = availability
    out = []
    for school in wanted:
        profile = by_school.get(school)
        if profile is None:
            out.append(unprofiled(school))
        else:
            out.append(school_kpis(profile, evaluate(profile, list(rules)), checks_of, states[school]))
    return out
