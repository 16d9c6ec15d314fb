"""Server-sent events: live device, gateway and alarm changes; resumes after Last-Event-ID."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from contract.messages import MAX_SEQ
from hub import live
from hub.api.deps import PrincipalDep, Services, ServicesDep
from hub.auth.principal import CsrfRejected, NotAuthenticated, authenticate

router = APIRouter(tags=["stream"])
KEEPALIVE_S = 15.0


def _frame(event: live.LiveEvent) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"


def _still_valid(svc: Services, request: Request) -> bool:
    """Whether the stream's credentials still hold (not logged out, expired, disabled or revoked)."""
    try:
        with svc.sessions.begin() as session:
            authenticate(request, session, svc.settings, svc.now())
    except (NotAuthenticated, CsrfRejected):
        return False
    return True


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    svc: ServicesDep,
    who: PrincipalDep,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_SEQ)] = None,
) -> StreamingResponse:
    """A text/event-stream of changes (event: device | gateway | alarm), JSON data, numeric ids.

    With ``Last-Event-ID`` the changes committed since are replayed first, from the database, so a
    hub restart loses nothing; when more than ``api.sse_buffer`` were missed, an ``event: resync``
    comes first and only the newest are replayed (the console reloads its lists). Only changes of
    schools in the caller's scope are sent; the stream ends when its session or token stops being
    valid (checked at every keep-alive), and the reconnect then gets 401.
    """
    queue = svc.live.subscribe()  # before reading the replay: a change committed meanwhile is in one or both
    try:
        missed, truncated = (
            await run_in_threadpool(live.replay, svc.sessions, last_event_id, svc.settings.api.sse_buffer)
            if last_event_id is not None
            else ([], False)
        )
    except BaseException:
        svc.live.unsubscribe(queue)
        raise

    def visible(event: live.LiveEvent) -> bool:
        return who.scope.allows(str(event.data.get("school_id", "")))

    async def events() -> AsyncIterator[str]:
        replayed_to = missed[-1].id if missed else (last_event_id or 0)
        try:
            yield "retry: 2000\n\n"
            if truncated:
                yield "event: resync\ndata: {}\n\n"
            for event in missed:
                if visible(event):
                    yield _frame(event)
            while not await request.is_disconnected():
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        item = await queue.get()
                except TimeoutError:
                    if who.authenticated and not await run_in_threadpool(_still_valid, svc, request):
                        return
                    yield ": keepalive\n\n"
                    continue
                if item is None:
                    return
                if item.id <= replayed_to or not visible(item):
                    continue  # committed before the replay was read (already sent), or another school's
                yield _frame(item)
        finally:
            svc.live.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
