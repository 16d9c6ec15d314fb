"""Cancelling a task so that it really ends, on Python 3.11 too; supervising a long-lived one."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from campusguard.backoff import backoff_s

log = logging.getLogger(__name__)

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


@dataclass
class TaskHealth:
    """What /healthz says of one supervised task."""

    running: bool = False
    restarts: int = 0
    last_error: str | None = None


async def supervised(name: str, make: Callable[[], Awaitable[None]], stop: asyncio.Event, health: TaskHealth) -> None:
    """Run ``make()`` until ``stop`` is set; an unexpected error is logged with its traceback and the
    task starts again after a backoff (0.5 s doubling to 30 s), so one bug does not end a hub's job.
    """
    attempt = 0
    while not stop.is_set():
        health.running = True
        try:
            await make()
            return  # a clean end: the task saw ``stop``
        except Exception as exc:
            health.restarts += 1
            health.last_error = f"{type(exc).__name__}: {exc}"[:500]
            delay = backoff_s(attempt, 0.5, 30.0)
            attempt += 1
            log.exception("%s failed; starting it again in %.1f s", name, delay)
        finally:
            health.running = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stop.wait()


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``stop``; whether it was set (a sleep a stop cuts short)."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True
