"""Turn point values into alarm changes: edge detection, debounce, hysteresis and latching.

Pure: the caller passes each poll's values and the time. A latched alarm (GB 50394 5.2.3: a panic
button latches and only a person resets it) is raised by its input or its latch point and is reset
only when the device's latch point reads false and the input is released; releasing the button
alone changes nothing.

The state survives restarts: ``export`` gives what to persist and a tracker built with it compares
the first poll after a restart with what it knew, so a reset or a clear that happened while the
agent was down is reported (marked ``restart``). A rule with a ``counter`` (a box that counts its
activations) also reports activations no poll saw: each becomes an alarm of its own, raised and
reset, so every press after a reset reaches the police even when the agent missed it.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from agent.profiles import AlarmRule
from agent.registers import Value

log = logging.getLogger(__name__)

Change = Literal["raised", "cleared", "reset"]
Detected = Literal["restart", "counter"]
MAX_MISSED = 10  # activations reported from one counter jump; more means a replaced or reset counter


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm went up, came down by itself, or was reset at the device."""

    rule: AlarmRule
    change: Change
    value: Value | None
    at: datetime
    detected: Detected | None = None  # None: seen as it happened

    @property
    def key(self) -> str:
        """The alarm's name within its device: type, plus zone when zoned."""
        return alarm_key(self.rule)


def alarm_key(rule: AlarmRule) -> str:
    """The alarm's name within its device, e.g. ``intrusion`` or ``intrusion:3``."""
    return rule.type if rule.zone is None else f"{rule.type}:{rule.zone}"


def in_alarm(rule: AlarmRule, value: Value, active: bool) -> bool:
    """Whether a value is in alarm; hysteresis keeps an active analog alarm up near the limit."""
    when = rule.when
    if when is None:
        return bool(value)
    if when.equals is not None:
        return bool(value == when.equals)
    if not isinstance(value, int | float):
        return False  # an unknown reading (None) is not an alarm by itself
    margin = when.hysteresis if active else 0.0
    if when.above is not None:
        return float(value) > when.above - margin
    assert when.below is not None
    return float(value) < when.below + margin


class _RuleState:
    __slots__ = ("active", "count", "latch_seen", "pending", "pending_since", "raised_value")

    def __init__(self) -> None:
        self.active = False
        self.raised_value: Value = None
        self.latch_seen = False  # the device's latch was set during this activation
        self.pending: bool | None = None  # the condition seen but not yet held for debounce_s
        self.pending_since: datetime | None = None
        self.count: int | None = None  # the rule's counter at the last poll

    def export(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "raised_value": self.raised_value,
            "latch_seen": self.latch_seen,
            "count": self.count,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self.active = saved.get("active") is True
        value = saved.get("raised_value")
        self.raised_value = value if isinstance(value, bool | int | float | str) else None
        self.latch_seen = saved.get("latch_seen") is True
        count = saved.get("count")
        self.count = count if isinstance(count, int) and not isinstance(count, bool) else None


class AlarmTracker:
    """Tracks every alarm rule of one device."""

    def __init__(
        self, rules: list[AlarmRule], saved: dict[str, dict[str, Any]] | None = None, *, restarted: bool = True
    ) -> None:
        self.rules = rules
        self._state = {alarm_key(rule): _RuleState() for rule in rules}
        # The first poll's changes happened while the agent was down (unless this is a rewind).
        self._restored = saved is not None and restarted
        for key, state in (saved or {}).items():
            if key in self._state and isinstance(state, dict):
                self._state[key].restore(state)

    def rewound(self, saved: dict[str, dict[str, Any]] | None) -> "AlarmTracker":
        """A tracker back at a saved state: changes that could not be stored are found again next poll."""
        return AlarmTracker(self.rules, saved, restarted=False)

    def active(self) -> list[str]:
        """Keys of the alarms now raised."""
        return [key for key, state in self._state.items() if state.active]

    def export(self) -> dict[str, dict[str, Any]]:
        """What to persist so a restarted agent knows which alarms were up (JSON-able)."""
        return {key: state.export() for key, state in self._state.items()}

    def update(self, values: dict[str, Value], at: datetime) -> list[AlarmChange]:
        """Feed one poll's values; return the alarm changes it causes."""
        changes: list[AlarmChange] = []
        restored, self._restored = self._restored, False
        for rule in self.rules:
            state = self._state[alarm_key(rule)]
            if values.get(rule.point) is None:
                continue
            was_active = state.active
            change = _edge(rule, state, values, at)
            found = [change] if change else []
            if rule.counter is not None:
                found = _counted(rule, state, values.get(rule.counter), was_active=was_active, change=change, at=at)
            if restored:
                found = [replace(c, detected="restart") for c in found]
            changes += found
        return changes


def _edge(rule: AlarmRule, state: _RuleState, values: dict[str, Value], at: datetime) -> AlarmChange | None:
    """The change one rule's condition makes, after debounce and latching."""
    value = values.get(rule.point)
    condition = in_alarm(rule, value, state.active)
    if rule.only_when is not None and not values.get(rule.only_when):
        condition = False  # e.g. a disarmed fence zone: no voltage alarm
    if rule.latch:
        latched = bool(values.get(rule.latch.point))
        state.latch_seen = state.latch_seen or (state.active and latched)
        # Stay up until the device itself reports the reset (latch seen, then cleared).
        condition = condition or latched or (state.active and not state.latch_seen)
    if condition == state.active:
        state.pending = None
        return None
    if state.pending is not condition:
        state.pending, state.pending_since = condition, at
    assert state.pending_since is not None
    if (at - state.pending_since).total_seconds() < rule.debounce_s:
        return None
    state.pending = None
    state.active = condition
    state.latch_seen = condition and rule.latch is not None and bool(values.get(rule.latch.point))
    if condition:
        state.raised_value = value
        return AlarmChange(rule, "raised", value, at)
    # A text point (a camera's fault class) reads "" once restored: report what ended.
    ended = state.raised_value if isinstance(value, str) and not value else value
    return AlarmChange(rule, "reset" if rule.latch else "cleared", ended, at)


def _counted(
    rule: AlarmRule, state: _RuleState, count: Value, *, was_active: bool, change: AlarmChange | None, at: datetime
) -> list[AlarmChange]:
    """The edge's change plus the activations the counter says no poll saw, in the order they happened.

    Since the last poll the device counted ``seen`` activations; the edge accounts for one when it
    is a raise. Any more were pressed and reset in between: the alarm that was up ended, each missed
    one is raised and reset, and the alarm up now (if any) is raised last.
    """
    if not isinstance(count, int) or isinstance(count, bool):
        return [change] if change else []
    last, state.count = state.count, count
    seen = count - last if last is not None and count >= last else 0  # no baseline, or a new counter
    edge_raised = change is not None and change.change == "raised"
    missed = seen - (1 if edge_raised else 0)
    if missed <= 0:
        return [change] if change else []
    now_active = state.active
    complete = seen - (1 if now_active else 0)  # activations that were raised and reset in between
    if complete > MAX_MISSED:
        log.warning("%s: counter jumped by %d; reporting %d missed activations", rule.point, seen, MAX_MISSED)
        complete = MAX_MISSED
    reset: Change = "reset" if rule.latch else "cleared"
    out: list[AlarmChange] = []
    if was_active:
        out.append(change if change and not edge_raised else AlarmChange(rule, reset, None, at, "counter"))
    for _ in range(complete):
        out += [AlarmChange(rule, "raised", True, at, "counter"), AlarmChange(rule, reset, None, at, "counter")]
    if now_active:
        out.append(change if edge_raised and change else AlarmChange(rule, "raised", state.raised_value, at, "counter"))
    return out
