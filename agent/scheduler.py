"""The poll loop of one device: absolute schedule, per-poll deadline, no overlap, backoff.

A poll that overruns its slot skips the missed ticks instead of piling up. The first tick's offset
within the interval is given by the caller: bus devices share it, so the devices of one bus are
polled back to back (they queue on the bus anyway) while the buses run side by side; a random phase
per device cost ``bench/agent_poll`` twice the CPU. After ``backoff_after``
consecutive failures the next attempt waits ``interval * 2^k`` (capped, with jitter), so a dead
device on a shared bus costs its neighbours one timeout per backoff period, not one per interval.
"""

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.errors import AgentError, DeviceTimeout, FatalError, InternalError
from agent.registers import Value
from campusguard.backoff import backoff_s

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Timing of one device's polls."""

    interval_s: float
    deadline_s: float
    backoff_after: int = 2
    max_backoff_s: float = 30.0


def backoff_delay(policy: PollPolicy, failures: int, rng: random.Random) -> float:
    """How long to wait after ``failures`` consecutive failures (0 when not backing off)."""
    if failures < policy.backoff_after:
        return 0.0
    return backoff_s(failures - policy.backoff_after + 1, policy.interval_s, policy.max_backoff_s, jitter=0.1, rng=rng)


OnSuccess = Callable[[dict[str, Value], datetime, float], None]
OnFailure = Callable[[AgentError, datetime], None]


class PollLoop:
    """Runs one device's polls until cancelled."""

    def __init__(
        self,
        name: str,
        policy: PollPolicy,
        poll: Callable[[], Awaitable[dict[str, Value]]],
        *,
        on_success: OnSuccess,
        on_failure: OnFailure,
        now: Callable[[], datetime],
        rng: random.Random | None = None,
        start_offset_s: float | None = None,
        turn: AbstractAsyncContextManager[Any] | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._poll = poll
        self._on_success = on_success
        self._on_failure = on_failure
        self._now = now
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.start_offset_s = start_offset_s  # None: a random phase of its own
        self._turn = turn or contextlib.nullcontext()
        self._probe = asyncio.Event()
        self._stopping = False
        self.failures = 0
        self.polls = 0
        self.internal_errors = 0

    def probe(self) -> None:
        """Poll as soon as possible (a hub's "probe now" command)."""
        self._probe.set()

    def stop(self) -> None:
        """Finish after the poll in progress, if any.

        Shutdown does not rely on task cancellation: on Python 3.11 a cancel that lands while an
        ``asyncio.timeout`` expires can surface as TimeoutError, which this loop treats as a failed
        poll, and the cancel would be lost.
        """
        self._stopping = True
        self._probe.set()

    async def _once(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._turn:  # the bus: devices at one phase queue here, outside their deadlines
            await self._exchange(loop)

    async def _exchange(self, loop: asyncio.AbstractEventLoop) -> None:
        started = loop.time()
        try:
            async with asyncio.timeout(self.policy.deadline_s):
                values = await self._poll()
        except TimeoutError:
            self._fail(DeviceTimeout(f"no answer within {self.policy.deadline_s:.2f} s"))
        except AgentError as exc:
            self._fail(exc)
        except Exception as exc:  # noqa: BLE001 - the supervisor boundary: a driver bug stays with its device
            self._internal(exc)
        else:
            self.failures = 0
            try:
                self._on_success(values, self._now(), (loop.time() - started) * 1000)
            except Exception as exc:  # noqa: BLE001 - the same boundary around what the values set off
                self._internal(exc)
        finally:
            self.polls += 1

    def _internal(self, exc: Exception) -> None:
        """An untranslated error: logged with its traceback (first and every 100th), the device backs off."""
        self.internal_errors += 1
        if self.internal_errors % 100 == 1:
            log.error("%s: unexpected error (%d so far)", self.name, self.internal_errors, exc_info=exc)
        self._fail(InternalError(f"{type(exc).__name__}: {exc}"[:200]))

    def _fail(self, exc: AgentError) -> None:
        self.failures += 1
        if isinstance(exc, FatalError):
            self.failures = max(self.failures, self.policy.backoff_after + 10)
        self._on_failure(exc, self._now())

    async def _sleep_until(self, when: float) -> None:
        delay = when - asyncio.get_running_loop().time()
        if delay <= 0 or self._stopping:
            return
        self._probe.clear()
        try:
            async with asyncio.timeout(delay):
                await self._probe.wait()
        except TimeoutError:
            pass

    async def run(self) -> None:
        """Poll on an absolute schedule until stopped."""
        loop = asyncio.get_running_loop()
        interval = self.policy.interval_s
        offset = self.start_offset_s
        if offset is None:
            offset = self._rng.uniform(0, min(interval, 1.0))  # spread start-up load
        next_at = loop.time() + offset
        while not self._stopping:
            await self._sleep_until(next_at)
            if self._stopping:
                break
            await self._once()
            now = loop.time()
            delay = backoff_delay(self.policy, self.failures, self._rng)
            if delay:
                next_at = now + delay
                continue
            next_at += interval
            if next_at <= now:  # overran: skip missed ticks, keep the phase
                next_at += math.ceil((now - next_at) / interval) * interval
                if next_at <= now:
                    next_at += interval
