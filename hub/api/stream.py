"""Server-sent events: live device, gateway and alarm changes; resumes after Last-Event-ID."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from hub import live
from hub.api.deps import PrincipalDep, ServicesDep

router = APIRouter(tags=["stream"])
KEEPALIVE_S = 15.0


def _frame(event: live.LiveEvent) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    svc: ServicesDep,
    _who: PrincipalDep,
    last_event_id: Annotated[int | None, Header()] = None,
) -> StreamingResponse:
    """A text/event-stream of changes (event: device | gateway | alarm), JSON data, numeric ids.

    With ``Last-Event-ID`` the changes committed since are replayed first, from the database, so a
    hub restart loses nothing; when more than ``api.sse_buffer`` were missed, an ``event: resync``
    comes first and only the newest are replayed (the console reloads its lists).
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

    async def events() -> AsyncIterator[str]:
        replayed_to = missed[-1].id if missed else (last_event_id or 0)
        try:
            yield "retry: 2000\n\n"
            if truncated:
                yield "event: resync\ndata: {}\n\n"
            for event in missed:
                yield _frame(event)
            while not await request.is_disconnected():
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        item = await queue.get()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if item is None:
                    return
                if item.id <= replayed_to:
                    continue  # committed before the replay was read: already sent
                yield _frame(item)
        finally:
            svc.live.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
