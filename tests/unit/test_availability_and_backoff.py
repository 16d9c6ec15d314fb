"""The availability state machine and the scheduler's backoff."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from agent.availability import AvailabilityTracker
from agent.scheduler import PollPolicy, backoff_delay

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_degraded_then_offline_then_back_online() -> None:
    tracker = AvailabilityTracker(T0, offline_after=2)
    first = tracker.success(T0)
    assert first and (first.previous, first.state) == ("unknown", "online")
    t1 = tracker.failure("timeout", T0 + timedelta(seconds=1))
    assert t1 and (t1.state, t1.reason) == ("degraded", "timeout")
    t2 = tracker.failure("timeout", T0 + timedelta(seconds=2))
    assert t2 and (t2.state, t2.reason) == ("offline", "timeout")
    assert tracker.failure("timeout", T0 + timedelta(seconds=3)) is None  # no repeat while offline
    assert tracker.since == T0 + timedelta(seconds=2)
    back = tracker.success(T0 + timedelta(seconds=4))
    assert back and (back.previous, back.state, back.reason) == ("offline", "online", None)


def test_protocol_errors_mean_degraded_not_offline() -> None:
    tracker = AvailabilityTracker(T0, offline_after=2)
    tracker.success(T0)
    for _ in range(5):
        tracker.failure("protocol", T0)
    assert (tracker.state, tracker.reason) == ("degraded", "protocol")


def test_reason_change_while_offline_is_reported() -> None:
    tracker = AvailabilityTracker(T0, offline_after=1)
    tracker.failure("timeout", T0)
    change = tracker.failure("unreachable", T0)
    assert change and (change.state, change.reason) == ("offline", "unreachable")


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(0, 0, 0), (1, 0, 0), (2, 1.8, 2.2), (3, 3.6, 4.4), (4, 7.2, 8.8), (30, 27, 33)],
)
def test_backoff_grows_exponentially_to_a_cap(failures: int, low: float, high: float) -> None:
    policy = PollPolicy(interval_s=1.0, deadline_s=0.5, backoff_after=2, max_backoff_s=30)
    delay = backoff_delay(policy, failures, random.Random(1))
    assert low <= delay <= high


def test_the_one_backoff_doubles_to_its_cap_and_spreads_retries() -> None:
    from campusguard.backoff import backoff_s

    assert [backoff_s(n, 0.5, 15.0, jitter=0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert backoff_s(10**9, 0.5, 15.0, jitter=0) == 15.0  # no overflow on a long outage
    waits = {round(backoff_s(3, 0.5, 15.0, rng=random.Random(seed)), 3) for seed in range(50)}
    assert min(waits) >= 4.0 * 0.8 and max(waits) <= 4.0 * 1.2 and len(waits) > 40  # gateways do not return together
