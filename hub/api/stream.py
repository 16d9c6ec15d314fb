"""Server-sent events: live device, gateway and alarm changes; resumes after Last-Event-ID."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from hub.api.deps import PrincipalDep, ServicesDep

router = APIRouter(tags=["stream"])
KEEPALIVE_S = 15.0


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    svc: ServicesDep,
    _who: PrincipalDep,
    last_event_id: Annotated[int | None, Header()] = None,
) -> StreamingResponse:
    """A text/event-stream of changes (event: device | gateway | alarm), JSON data, numeric ids."""
    queue = svc.live.subscribe(last_event_id)

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        item = await queue.get()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if item is None:
                    return
                yield f"id: {item.id}\nevent: {item.type}\ndata: {json.dumps(item.data, ensure_ascii=False)}\n\n"
        finally:
            svc.live.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
