"""Alarm state across agent restarts, and activations a device counted that no poll saw.

Every press after a reset is a new alarm that must reach the police, even when the agent was down
for the reset, or for the reset and the next press, or missed both between two polls.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.alarms import MAX_MISSED, AlarmTracker
from agent.profiles import AlarmRule

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PANIC = AlarmRule.model_validate(
    {"type": "panic", "point": "input", "latch": {"point": "latched"}, "counter": "count", "severity": "critical"}
)


def _box(latched: bool, count: int, pressed: bool = False) -> dict[str, Any]:
    return {"input": pressed, "latched": latched, "count": count}


def _changes(tracker: AlarmTracker, values: dict[str, Any], seconds: float = 1) -> list[tuple[str, str | None]]:
    """One poll's changes."""
    return [(c.change, c.detected) for c in tracker.update(values, T0 + timedelta(seconds=seconds))]


def _polls(tracker: AlarmTracker, values: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Two polls reading the same: what a counter reveals is acted on when it lasts two polls."""
    return _changes(tracker, values, 1) + _changes(tracker, values, 2)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # latched when the agent died ...
        (_box(True, 1), _box(True, 1), []),  # ... still latched: the same alarm, nothing new
        (_box(True, 1), _box(False, 1), [("reset", "restart")]),  # reset while down
        (  # reset and pressed again while down: the old one ends, a new one is raised
            _box(True, 1),
            _box(True, 2),
            [("reset", "restart"), ("raised", "restart")],
        ),
        (  # two presses, both reset, while down: each reaches the police
            _box(True, 1),
            _box(False, 3),
            [("reset", "restart"), ("raised", "restart"), ("reset", "restart")] * 1
            + [("raised", "restart"), ("reset", "restart")],
        ),
        # quiet when the agent died ...
        (_box(False, 1), _box(True, 2), [("raised", "restart")]),  # pressed while down, still latched
        (_box(False, 1), _box(False, 2), [("raised", "restart"), ("reset", "restart")]),  # pressed and reset
        (_box(False, 1), _box(False, 1), []),
    ],
)
def test_what_happened_while_the_agent_was_down_is_reported(
    before: dict[str, Any], after: dict[str, Any], expected: list[tuple[str, str | None]]
) -> None:
    tracker = AlarmTracker([PANIC])
    tracker.update(_box(False, before["count"] - before["latched"]), T0)  # before the press that latched it
    tracker.update(before, T0)
    restarted = AlarmTracker([PANIC], json.loads(json.dumps(tracker.export())))
    assert _polls(restarted, after) == expected
    assert restarted.active() == (["panic"] if after["latched"] else [])
    assert _changes(restarted, after, 3) == []  # and only once


def test_reset_and_press_between_two_polls_is_a_new_alarm() -> None:
    tracker = AlarmTracker([PANIC])
    assert _changes(tracker, _box(False, 5)) == []
    assert _changes(tracker, _box(True, 6)) == [("raised", None)]
    assert _changes(tracker, _box(True, 6)) == []
    # reset and pressed again within one poll interval: the latch never read false
    assert _polls(tracker, _box(True, 7)) == [("reset", "counter"), ("raised", "counter")]
    assert _changes(tracker, _box(False, 7)) == [("reset", None)]


@pytest.mark.parametrize("counter_first", [True, False])
def test_a_counter_read_a_poll_before_or_after_the_latch_is_one_activation(counter_first: bool) -> None:
    # The latch (a coil) and the counter (an input register) come in separate requests: a press
    # between them shows in one a poll before the other. That is one alarm, not two.
    tracker = AlarmTracker([PANIC])
    _changes(tracker, _box(False, 0))
    halfway = _box(False, 1) if counter_first else _box(True, 0)
    seen = _changes(tracker, halfway) + _changes(tracker, _box(True, 1)) + _polls(tracker, _box(True, 1))
    assert seen == [("raised", None)]


def test_a_second_press_while_latched_is_the_same_alarm() -> None:
    # The box counts activations (presses that latch it): pressing a latched box again counts nothing.
    tracker = AlarmTracker([PANIC])
    _changes(tracker, _box(False, 1))
    assert _changes(tracker, _box(True, 2, pressed=True)) == [("raised", None)]
    assert _changes(tracker, _box(True, 2, pressed=False)) == []
    assert _changes(tracker, _box(True, 2, pressed=True)) == []


@pytest.mark.parametrize("jump", [2, 11, MAX_MISSED])
def test_every_activation_a_counter_reveals_is_reported(jump: int) -> None:
    # 11: what five agent kills before their first poll let pass in make faults, when the bound was 10.
    tracker = AlarmTracker([PANIC])
    _changes(tracker, _box(False, 1))
    assert _polls(tracker, _box(False, 1 + jump)) == [("raised", "counter"), ("reset", "counter")] * jump


@pytest.mark.parametrize("jump", [MAX_MISSED + 1, 10_000, 2**32 - 2])
def test_a_counter_jump_reports_a_bounded_number_of_alarms(jump: int) -> None:
    tracker = AlarmTracker([PANIC])
    _changes(tracker, _box(False, 1))
    changes = _polls(tracker, _box(False, 1 + jump))
    assert changes == [("raised", "counter"), ("reset", "counter")] * MAX_MISSED


@pytest.mark.parametrize("count", [None, "7", True, 3.5])
def test_a_counter_that_reads_oddly_is_ignored(count: object) -> None:
    tracker = AlarmTracker([PANIC])
    _changes(tracker, _box(False, 5))
    assert _changes(tracker, {"input": False, "latched": False, "count": count}) == []
    assert _changes(tracker, _box(False, 5)) == []


def test_a_counter_that_goes_back_is_a_new_baseline() -> None:
    # A replaced box or a cleared counter: nothing is invented from the drop; counting starts again.
    tracker = AlarmTracker([PANIC])
    _changes(tracker, _box(False, 500))
    assert _changes(tracker, _box(False, 0)) == []
    assert _polls(tracker, _box(False, 1)) == [("raised", "counter"), ("reset", "counter")]


@pytest.mark.parametrize(
    "saved",
    [{}, {"panic": "nonsense"}, {"panic": {"active": "yes", "count": "3"}}, {"other": {"active": True}}],
)
def test_a_damaged_saved_state_is_read_as_nothing_known(saved: dict[str, Any]) -> None:
    tracker = AlarmTracker([PANIC], saved)
    assert tracker.active() == []
    assert _changes(tracker, _box(True, 1)) == [("raised", "restart")]
