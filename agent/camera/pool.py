"""The worker pool that runs blocking video work under a CPU budget.

OpenCV releases the GIL while it decodes, so threads give real parallelism. Each job's CPU time is
measured in its thread (``time.thread_time``); over a sliding window the pool tells callers when
the budget is spent, and they skip the expensive image tier until it recovers.
"""

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class VideoPool:
    """Threads for video jobs, with a CPU budget in cores averaged over ``window_s``."""

    def __init__(self, budget_cores: float, workers: int | None = None, window_s: float = 60.0) -> None:
        self.budget_cores = budget_cores
        self.workers = workers or max(1, math.ceil(budget_cores))
        self.window_s = window_s
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="video")
        self._spent: deque[tuple[float, float]] = deque()
        self._started = time.monotonic()

    def cpu_used(self) -> float:
        """CPU seconds spent by jobs within the window."""
        cutoff = time.monotonic() - self.window_s
        while self._spent and self._spent[0][0] < cutoff:
            self._spent.popleft()
        return sum(cpu for _, cpu in self._spent)

    def over_budget(self) -> bool:
        """Whether the jobs used more than their share of the CPU lately."""
        window = min(self.window_s, max(time.monotonic() - self._started, 1.0))
        return self.cpu_used() > self.budget_cores * window

    async def run(self, fn: Callable[..., T], *args: object) -> tuple[T, float]:
        """Run ``fn(*args)`` in a worker; return its result and the CPU seconds it used."""

        def measured() -> tuple[T, float]:
            start = time.thread_time()
            result = fn(*args)
            return result, time.thread_time() - start

        result, cpu = await asyncio.get_running_loop().run_in_executor(self._executor, measured)
        self._spent.append((time.monotonic(), cpu))
        return result, cpu

    def close(self) -> None:
        """Stop the workers (running jobs finish; they are bounded by their own timeouts)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
