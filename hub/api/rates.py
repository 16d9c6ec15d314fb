"""在线率 and 完好率 per school, ranked, with a district's or the city's total (``hub.rates``)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.api.deps import PrincipalDep, ServicesDep
from hub.api.inventory import schools_asked
from hub.auth.principal import Principal
from hub.domain.rates import Tally
from hub.rates import SchoolTally, combined, school_tallies

router = APIRouter(tags=["rates"])
MAX_RANGE = timedelta(days=400)


class RateOut(BaseModel):
    """Time-weighted rates over device-time; unknown time is reported, never counted as up."""

    online_rate: float | None = Field(description="在线率: online or degraded ÷ known device-time")
    intact_rate: float | None = Field(description="完好率: online and not degraded ÷ known device-time")
    coverage: float | None = Field(description="known ÷ judged device-time")
    online_s: float
    degraded_s: float
    offline_s: float
    unknown_s: float

    @classmethod
    def of(cls, t: Tally) -> "RateOut":
        return cls(
            online_rate=t.online_rate,
            intact_rate=t.intact_rate,
            coverage=t.coverage,
            online_s=t.online_s,
            degraded_s=t.degraded_s,
            offline_s=t.offline_s,
            unknown_s=t.unknown_s,
        )


class DayRateOut(RateOut):
    day: str = Field(description="a local day of the school (its time zone)")


class SchoolRateOut(RateOut):
    school_id: str
    name: str
    district: str | None
    timezone: str
    devices: int
    rank: int | None = Field(description="by 在线率, best first; none when nothing is known")
    days: list[DayRateOut]


class RatesOut(BaseModel):
    start: datetime
    end: datetime
    kind: str | None
    total: RateOut
    schools: list[SchoolRateOut]


def _schools(svc: ServicesDep, who: Principal, district: str | None, school: str | None) -> list[str]:
    with svc.sessions() as session:
        return schools_asked(svc, who, session, district, school)


def _out(svc: ServicesDep, tally: SchoolTally) -> SchoolRateOut:
    entry = next((s for s in svc.settings.schools if s.id == tally.school_id), None)
    days = [DayRateOut(day=day, **RateOut.of(t).model_dump()) for day, t in sorted(tally.days.items())]
    return SchoolRateOut(
        school_id=tally.school_id,
        name=entry.name if entry else "",
        district=entry.district if entry else None,
        timezone=tally.timezone,
        devices=tally.devices,
        rank=None,
        days=days,
        **RateOut.of(tally.whole).model_dump(),
    )


@router.get("/rates")
async def rates(
    *,
    svc: ServicesDep,
    who: PrincipalDep,
    start: datetime | None = None,
    end: datetime | None = None,
    district: Annotated[str | None, Query(max_length=64)] = None,
    school: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=200, description="only devices of this kind, e.g. camera")] = None,
) -> RatesOut:
    """Each school's 在线率 and 完好率 over [start, end) (default: the last 24 h), per local day, ranked."""
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = (start or end - timedelta(days=1)).astimezone(UTC)
    if start >= end or end - start > MAX_RANGE:
        raise HTTPException(422, "start must be before end, and the range at most 400 days")

    def compute() -> dict[str, SchoolTally]:  # in a worker thread: the database is not the event loop's
        schools = _schools(svc, who, district, school)
        with svc.sessions() as session:
            return school_tallies(session, schools, start, end, tz_of=svc.settings.school_tz, kind=kind)

    tallies = await run_in_threadpool(compute)
    out = [_out(svc, t) for t in tallies.values()]
    ranked = sorted((s for s in out if s.online_rate is not None), key=lambda s: (-(s.online_rate or 0), s.school_id))
    for n, s in enumerate(ranked, 1):
        s.rank = n
    out.sort(key=lambda s: (s.rank is None, s.rank or 0, s.school_id))
    return RatesOut(start=start, end=end, kind=kind, total=RateOut.of(combined(tallies.values())), schools=out)
