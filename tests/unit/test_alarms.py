"""Alarm tracking: edges, debounce, hysteresis, gating and the latched panic."""

from datetime import UTC, datetime, timedelta

from agent.alarms import AlarmTracker
from agent.profiles import AlarmRule

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _rule(**kw: object) -> AlarmRule:
    return AlarmRule.model_validate({"type": "x", "point": "p", **kw})


def _run(tracker: AlarmTracker, steps: list[tuple[float, dict[str, object]]]) -> list[tuple[float, str]]:
    out = []
    for seconds, values in steps:
        for change in tracker.update(values, _at(seconds)):  # type: ignore[arg-type]
            out.append((seconds, change.change))
    return out


def test_edge_raises_once_and_clears_once() -> None:
    tracker = AlarmTracker([_rule()])
    steps = [(0, {"p": False}), (1, {"p": True}), (2, {"p": True}), (3, {"p": False}), (4, {"p": False})]
    assert _run(tracker, steps) == [(1, "raised"), (3, "cleared")]


def test_debounce_ignores_a_blip_and_waits_for_a_steady_change() -> None:
    tracker = AlarmTracker([_rule(debounce_s=2)])
    steps = [(0, {"p": True}), (1, {"p": False}), (2, {"p": True}), (3, {"p": True}), (4, {"p": True})]
    assert _run(tracker, steps) == [(4, "raised")]


def test_hysteresis_keeps_a_low_voltage_alarm_up_near_the_limit() -> None:
    tracker = AlarmTracker([_rule(when={"below": 5.0, "hysteresis": 0.5})])
    steps = [(0, {"p": 8.0}), (1, {"p": 4.9}), (2, {"p": 5.2}), (3, {"p": 5.4}), (4, {"p": 5.6})]
    assert _run(tracker, steps) == [(1, "raised"), (4, "cleared")]


def test_only_when_gates_a_disarmed_zone() -> None:
    tracker = AlarmTracker([_rule(when={"below": 5.0}, only_when="armed")])
    steps = [(0, {"p": 0.0, "armed": False}), (1, {"p": 0.0, "armed": True}), (2, {"p": 0.0, "armed": False})]
    assert _run(tracker, steps) == [(1, "raised"), (2, "cleared")]


def test_latched_panic_survives_release_and_resets_only_at_the_device() -> None:
    tracker = AlarmTracker([_rule(latch={"point": "latched"})])
    steps = [
        (0, {"p": False, "latched": False}),
        (1, {"p": True, "latched": True}),  # pressed: the box latches
        (2, {"p": False, "latched": True}),  # released: still raised
        (3, {"p": False, "latched": True}),
        (4, {"p": False, "latched": False}),  # reset key at the box
    ]
    assert _run(tracker, steps) == [(1, "raised"), (4, "reset")]


def test_latched_panic_never_auto_clears_when_the_latch_was_never_seen() -> None:
    # A short press caught by one poll while the latch register lagged: stay raised.
    tracker = AlarmTracker([_rule(latch={"point": "latched"})])
    steps = [
        (0, {"p": True, "latched": False}),
        (1, {"p": False, "latched": False}),
        (9, {"p": False, "latched": False}),
    ]
    assert _run(tracker, steps) == [(0, "raised")]
    assert tracker.active() == ["x"]


def test_latch_found_set_at_start_raises() -> None:
    tracker = AlarmTracker([_rule(latch={"point": "latched"})])
    assert _run(tracker, [(0, {"p": False, "latched": True}), (1, {"p": False, "latched": False})]) == [
        (0, "raised"),
        (1, "reset"),
    ]


def test_zoned_alarms_have_their_own_keys() -> None:
    tracker = AlarmTracker([_rule(type="cut", point="z1", zone=1), _rule(type="cut", point="z2", zone=2)])
    changes = tracker.update({"z1": True, "z2": False}, T0)
    assert [c.key for c in changes] == ["cut:1"]
    assert tracker.active() == ["cut:1"]


def test_a_cleared_fault_class_names_the_class_that_ended() -> None:
    tracker = AlarmTracker([_rule(type="video_blind", point="blind")])
    raised = tracker.update({"blind": "covered"}, T0)
    cleared = tracker.update({"blind": ""}, _at(10))
    assert [(c.change, c.value) for c in raised + cleared] == [("raised", "covered"), ("cleared", "covered")]
