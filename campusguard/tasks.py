"""Cancelling a task so that it really ends, on Python 3.11 too."""

import asyncio
from typing import Any

RECANCEL_EVERY_S = 1.0


async def cancel_and_wait(*tasks: "asyncio.Task[Any]") -> None:
    """Cancel the tasks and wait until each has ended, cancelling again any that keeps running.

    On Python 3.11, ``asyncio.wait_for`` (aiomqtt awaits every QoS 1 PUBACK with it) returns the
    result and drops a cancel that lands as the awaited future completes, so one ``cancel()`` can
    leave a publishing loop running for ever and ``await task`` never returns. The caller still
    collects results or exceptions from the (now finished) tasks as before.
    """
    running = {task for task in tasks if not task.done()}
    while running:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=RECANCEL_EVERY_S)
