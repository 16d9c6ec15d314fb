"""联网率 and 达标率 of some schools, from their profiles, the rule packs and the devices' states now
(the database adapter of ``hub.domain.compliance.kpis``)."""

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compliance.judge import Judged, judge
from hub.compliance.observe import Metrics
from hub.db.models import Device
from hub.domain.compliance.kpis import SchoolKpis, school_kpis, unprofiled
from hub.settings import HubSettings


def kpis_of(
    session: Session,
    settings: HubSettings,
    schools: Iterable[str],
    now: datetime,
    metrics: Metrics | None = None,
    *,
    live: bool = True,
) -> list[SchoolKpis]:
    """Each school's KPIs, in the order given; a school without a profile is unknown."""
    wanted = list(dict.fromkeys(schools))
    judged = judge(session, settings, wanted, now, metrics, live=live)
    if live:  # judging read every device's state already: not a second scan of the devices
        states = {
            s: {d: o.availability for d, o in j.observed.devices.items()} for s, j in judged.items() if j.observed
        }
    else:
        states = device_states(session, wanted)
    return kpis_from(judged, states, wanted)


def kpis_from(
    judged: Mapping[str, Judged], states: Mapping[str, Mapping[str, str]], wanted: list[str]
) -> list[SchoolKpis]:
    """The KPIs of schools already judged, with their devices' availability by school and device."""
    out = []
    for school in wanted:
        j = judged.get(school)
        if j is None:
            out.append(unprofiled(school))
        else:
            checks_of = {r.id: r.check for r in j.rules}
            out.append(school_kpis(j.profile, j.findings, checks_of, states.get(school, {})))
    return out


def device_states(session: Session, schools: list[str]) -> dict[str, dict[str, str]]:
    states: dict[str, dict[str, str]] = {}
    for start in range(0, len(schools), 500):
        rows = session.execute(
            select(Device.school_id, Device.id, Device.availability).where(
                Device.school_id.in_(schools[start : start + 500])
            )
        )
        for school, device, availability in rows:
            states.setdefault(school, {})[device] = availability
    return states
