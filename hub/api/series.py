"""A device's numbers over time from the embedded store (``timeseries.backend: embedded``)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.api.deps import PrincipalDep, ServicesDep, SessionDep
from hub.api.inventory import _device
from hub.timeseries.embedded import EmbeddedStore

router = APIRouter(tags=["inventory"])
MAX_RANGE = timedelta(days=3_650)


class PointOut(BaseModel):
    at: datetime
    mean: float
    min: float
    max: float


class SeriesOut(BaseModel):
    field: str
    resolution: str = Field(description="raw (each value), m5 (5-minute buckets) or d1 (local days)")
    points: list[PointOut]


@router.get("/schools/{school_id}/devices/{device_id}/series")
async def device_series(
    *,
    school_id: str,
    device_id: str,
    field: Annotated[str, Query(min_length=1, max_length=200, description="a metric, or online / intact")],
    start: datetime | None = None,
    end: datetime | None = None,
    session: SessionDep,
    svc: ServicesDep,
    who: PrincipalDep,
) -> SeriesOut:
    """One number of one device over [start, end) (default: the last 24 h), at the finest resolution
    the store keeps for that range. 409 when the hub keeps no embedded time series (InfluxDB is
    queried directly)."""
    device = _device(session, who, school_id, device_id)
    store = svc.timeseries
    if not isinstance(store, EmbeddedStore):
        raise HTTPException(409, "this hub keeps no embedded time series (timeseries.backend is not embedded)")
    now = svc.now()
    end = (end or now).astimezone(UTC)
    start = (start or end - timedelta(days=1)).astimezone(UTC)
    if start >= end or end - start > MAX_RANGE:
        raise HTTPException(422, "start must be before end, and the range at most 10 years")
    key = (school_id, device.gateway_id, device_id, field)
    table, rows = await run_in_threadpool(store.query, key, start, end, now)
    points = [PointOut(at=datetime.fromtimestamp(t / 1000, UTC), mean=m, min=lo, max=hi) for t, m, lo, hi in rows]
    return SeriesOut(field=field, resolution=table, points=points)
