"""Experiment, not a product: the unchanged agent with every poll loop started at the same phase.

The agent gives each device its own poll loop with a random start offset in [0, 1) s, so with 200
devices the event loop wakes ~200 times a second for timers alone, and every Modbus round trip is
handled on its own. This wrapper makes ``PollLoop``'s start-up jitter 0 (nothing else changes), so
the devices of one bus are polled back to back once a second, like the floor script. Comparing it
with the plain agent measures what the spread schedule costs. Usage as ``campusguard agent``.
"""

import random
import sys
import types

import agent.runtime
import agent.scheduler
from campusguard.cli import main


class _AlignedRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a  # start offset 0 (backoff jitter would be 0.9: unused while every device answers)


# Only the scheduler and runtime modules see the aligned generator (the runtime draws one phase per
# bus since 5658b19; with this every bus starts at offset 0); random.Random stays as it is elsewhere.
agent.scheduler.random = types.SimpleNamespace(Random=_AlignedRandom)  # type: ignore[assignment]
agent.runtime.random = types.SimpleNamespace(Random=_AlignedRandom)  # type: ignore[attr-defined]

if __name__ == "__main__":
    sys.argv[0] = "campusguard"
    sys.exit(main())
