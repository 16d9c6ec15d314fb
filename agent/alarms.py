"""Turn point values into alarm changes: edge detection, debounce, hysteresis and latching.

Pure: the caller passes each poll's values and the time. A latched alarm (GB 50394 5.2.3: a panic
button latches and only a person resets it) is raised by its input or its latch point and is reset
only when the device's latch point reads false and the input is released; releasing the button
alone changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from agent.profiles import AlarmRule
from agent.registers import Value

Change = Literal["raised", "cleared", "reset"]


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm went up, came down by itself, or was reset at the device."""

    rule: AlarmRule
    change: Change
    value: Value | None
    at: datetime

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
    __slots__ = ("active", "latch_seen", "pending", "pending_since", "raised_value")

    def __init__(self) -> None:
        self.active = False
        self.raised_value: Value = None
        self.latch_seen = False  # the device's latch was set during this activation
        self.pending: bool | None = None  # the condition seen but not yet held for debounce_s
        self.pending_since: datetime | None = None


class AlarmTracker:
    """Tracks every alarm rule of one device."""

    def __init__(self, rules: list[AlarmRule]) -> None:
        self.rules = rules
        self._state = {alarm_key(rule): _RuleState() for rule in rules}

    def active(self) -> list[str]:
        """Keys of the alarms now raised."""
        return [key for key, state in self._state.items() if state.active]

    def update(self, values: dict[str, Value], at: datetime) -> list[AlarmChange]:
        """Feed one poll's values; return the alarm changes it causes."""
        changes: list[AlarmChange] = []
        for rule in self.rules:
            state = self._state[alarm_key(rule)]
            value = values.get(rule.point)
            if value is None:
                continue
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
                continue
            if state.pending is not condition:
                state.pending, state.pending_since = condition, at
            assert state.pending_since is not None
            if (at - state.pending_since).total_seconds() < rule.debounce_s:
                continue
            state.pending = None
            state.active = condition
            state.latch_seen = condition and rule.latch is not None and bool(values.get(rule.latch.point))
            if condition:
                state.raised_value = value
                changes.append(AlarmChange(rule, "raised", value, at))
            else:
                # A text point (a camera's fault class) reads "" once restored: report what ended.
                ended = state.raised_value if isinstance(value, str) and not value else value
                changes.append(AlarmChange(rule, "reset" if rule.latch else "cleared", ended, at))
        return changes
