"""The per-device availability state machine: unknown → online ⇄ degraded → offline, with reasons.

Pure: the caller passes the time. A device is degraded on its first failure and offline after
``offline_after`` consecutive failures of a reachability kind. A device that answers, but with
protocol exceptions or nonsense, is reachable: it stays degraded with reason "protocol".
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

State = Literal["unknown", "online", "degraded", "offline"]
REACHABILITY_REASONS = frozenset({"unreachable", "timeout", "auth", "gateway_offline"})


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of availability, reported at once as an event."""

    previous: State
    state: State
    reason: str | None
    at: datetime


class AvailabilityTracker:
    """Tracks one device's availability from poll outcomes."""

    def __init__(self, since: datetime, offline_after: int = 2) -> None:
        self.state: State = "unknown"
        self.reason: str | None = None
        self.since = since
        self.failures = 0
        self.offline_after = offline_after

    def _move(self, state: State, reason: str | None, at: datetime) -> Transition | None:
        if state == self.state and reason == self.reason:
            return None
        previous = self.state
        if state != self.state:
            self.since = at
        self.state, self.reason = state, reason
        return Transition(previous, state, reason, at)

    def success(self, at: datetime, degraded: str | None = None) -> Transition | None:
        """Record a good poll; ``degraded`` names what is wrong when the device works only in part."""
        self.failures = 0
        return self._move("degraded", degraded, at) if degraded else self._move("online", None, at)

    def failure(self, reason: str, at: datetime) -> Transition | None:
        """Record a failed poll with its reason."""
        self.failures += 1
        if reason in REACHABILITY_REASONS and self.failures >= self.offline_after:
            return self._move("offline", reason, at)
        if self.state == "offline" and reason in REACHABILITY_REASONS:
            return None
        return self._move("degraded", reason, at)
