"""The patrol counts the compliance rules read: for each school, every enabled plan that looks at one
of its cameras, with its rounds over the last 24 h (a district's plan counts for each of its schools)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain.compliance.model import PatrolKept
from hub.domain.patrol import DAY, begun, tally
from hub.patrols.models import PatrolPlanRow
from hub.patrols.store import done_runs, schedule_of, schools_of
from hub.settings import HubSettings

WINDOW = timedelta(hours=24)


def patrols_kept(
    session: Session, settings: HubSettings, schools: Iterable[str], now: datetime
) -> dict[str, tuple[PatrolKept, ...]]:
    """Each school's plans and their last 24 h (an empty tuple: no plan looks at its cameras)."""
    wanted = set(schools)
    plans = list(session.scalars(select(PatrolPlanRow).where(PatrolPlanRow.enabled.is_(True))))
    done = done_runs(session, [p.id for p in plans], now - WINDOW - DAY)
    out: dict[str, list[PatrolKept]] = defaultdict(list)
    for plan in plans:
        covered = schools_of(plan) & wanted
        if not covered:
            continue
        counted = tally(begun(schedule_of(plan, settings), done[plan.id], now - WINDOW, now, now))
        kept = PatrolKept(plan.name, counted.owed, counted.done, counted.missed, counted.first_missed)
        for school in covered:
            out[school].append(kept)
    return {school: tuple(out.get(school, ())) for school in wanted}
