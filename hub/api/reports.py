"""Monthly reports over the API: the same files ``campusguard report`` writes (``hub.report``)."""

import asyncio
import re
import weakref
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from starlette.concurrency import run_in_threadpool

from hub.api.deps import PrincipalDep, ServicesDep
from hub.report.collect import build
from hub.report.model import Month, NotVisible, ReportError, Scope, UnknownScope
from hub.report.render import FORMATS, render

router = APIRouter(tags=["reports"])
WAIT_S = 30.0
_gates: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _one_at_a_time() -> asyncio.Semaphore:
    """One report at a time per hub (a PDF takes a core for a second or more): they queue, not pile up.
    One per event loop: a semaphore belongs to the loop it first waited on."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(1)
    return gate


def _filename(scope: Scope, month: Month, fmt: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(scope).replace(":", "-"))
    return f"report-{safe}-{month}.{fmt}"


@router.get(
    "/reports/monthly",
    response_class=Response,
    responses={200: {"content": {t.split(";")[0]: {} for t in FORMATS.values()}}, 429: {"description": "busy"}},
)
async def monthly(
    *,
    svc: ServicesDep,
    who: PrincipalDep,
    month: Annotated[str, Query(max_length=7, description="YYYY-MM, cut in the scope's time zone")],
    scope: Annotated[str, Query(max_length=80, description="city, district:<id> or school:<id>")] = "city",
    format: Annotated[Literal["pdf", "html", "csv", "xlsx"], Query()] = "pdf",
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """A month's report on a city, district or school the caller sees whole: rates, ranking, outages,
    repairs against 24 h, alarms and response times, forwarding to the police, failing rules."""
    try:
        wanted, period = Scope.parse(scope), Month.parse(month)
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from None
    now: datetime = svc.now()

    def make() -> bytes:  # in a worker thread: the database and the renderer are not the event loop's
        with svc.sessions() as session:
            report = build(session, svc.settings, scope=wanted, month=period, now=now, allowed=who.scope.allows)
        return render(report, format, lang)

    gate = _one_at_a_time()
    try:
        async with asyncio.timeout(WAIT_S):
            await gate.acquire()
    except TimeoutError:
        raise HTTPException(429, "another report is being made; try again shortly", {"Retry-After": "10"}) from None
    try:
        data = await run_in_threadpool(make)
    except UnknownScope as exc:
        raise HTTPException(404, str(exc)) from None
    except NotVisible as exc:
        raise HTTPException(403, str(exc)) from None
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from None
    finally:
        gate.release()
    disposition = f'attachment; filename="{_filename(wanted, period, format)}"'
    if format == "html":
        disposition = "inline"
    return Response(data, media_type=FORMATS[format], headers={"Content-Disposition": disposition})
