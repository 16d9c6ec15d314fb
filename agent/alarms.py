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
# Activations reported from one counter jump. A person needs a press and a key reset per activation:
# 50 is more than one a second for an outage of a restart; a larger jump is a box replaced by one
# with a used counter. 10 lost one press in make faults (11 while agents were killed at start-up).
MAX_MISSED = 50


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
    __slots__ = (
        "active",
        "balance",
        "count",
        "from_restart",
        "latch_seen",
        "pending",
        "pending_since",
        "raised_value",
        "unexplained",
    )

    def __init__(self) -> None:
        self.active = False
        self.raised_value: Value = None
        self.latch_seen = False  # the device's latch was set during this activation
        self.pending: bool | None = None  # the condition seen but not yet held for debounce_s
        self.pending_since: datetime | None = None
        self.count: int | None = None  # the rule's counter at the last poll
        self.balance = 0  # activations counted minus raises seen, since the counter's baseline
        self.unexplained = 0  # consecutive polls the balance has been off zero
        self.from_restart = False  # the balance arose on the first poll after a restart

    def export(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "raised_value": self.raised_value,
            "latch_seen": self.latch_seen,
            "count": self.count,
            "balance": self.balance,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self.active = saved.get("active") is True
        value = saved.get("raised_value")
        self.raised_value = value if isinstance(value, bool | int | float | str) else None
        self.latch_seen = saved.get("latch_seen") is True
        count, balance = saved.get("count"), saved.get("balance")
        self.count = count if isinstance(count, int) and not isinstance(count, bool) else None
        self.balance = balance if isinstance(balance, int) and not isinstance(balance, bool) else 0


class AlarmTracker:
    """Tracks every alarm rule of one device."""

    def __init__(self, rules: list[AlarmRule], saved: dict[str, dict[str, Any]] | None = None) -> None:
        self.rules = rules
        self._state = {alarm_key(rule): _RuleState() for rule in rules}
        self._restored = saved is not None  # the first poll's changes happened while the agent was down
        for key, state in (saved or {}).items():
            if key in self._state and isinstance(state, dict):
                self._state[key].restore(state)

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
            change = _edge(rule, state, values, at)
            found = [change] if change else []
            if restored:
                found = [replace(c, detected="restart") for c in found]
            if rule.counter is not None:
                found += _counted(rule, state, values.get(rule.counter), change=change, at=at, restored=restored)
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
    rule: AlarmRule, state: _RuleState, count: Value, *, change: AlarmChange | None, at: datetime, restored: bool
) -> list[AlarmChange]:
    """Activations the device counted that no poll saw as a raise: each becomes an alarm of its own.

    The counter and the latch are read in separate requests, so either may show an activation one
    poll before the other: a difference between the counted activations and the raises seen is
    acted on only when it lasts two polls. A surplus then becomes that many activations: the alarm
    now up (if any) ended and each was raised (and reset, but for the last when the box is latched
    now); a deficit (a raise the counter never counted) is forgotten.
    """
    if not isinstance(count, int) or isinstance(count, bool):
        return []
    last, state.count = state.count, count
    if last is None or count < last:  # a baseline: a new box, a cleared counter, the first poll ever
        state.balance, state.unexplained = 0, 0
        return []
    raised = change is not None and change.change == "raised"
    state.balance += (count - last) - (1 if raised else 0)
    if state.balance == 0:
        state.unexplained, state.from_restart = 0, False
        return []
    state.from_restart = state.from_restart or restored
    state.unexplained += 1
    if state.unexplained < 2:
        return []  # the other half of this activation may show on the next poll
    missed, state.balance, state.unexplained = state.balance, 0, 0
    if missed < 0:
        return []
    if missed > MAX_MISSED:
        log.error(
            "%s: counter jumped by %d, which is not a number of presses (a replaced box?); reporting %d",
            rule.point, missed, MAX_MISSED,
        )  # fmt: skip
        missed = MAX_MISSED
    detected: Detected = "restart" if state.from_restart else "counter"
    state.from_restart = False
    reset: Change = "reset" if rule.latch else "cleared"
    out: list[AlarmChange] = []
    if state.active:
        out.append(AlarmChange(rule, reset, None, at, detected))
    for n in range(missed):
        out.append(AlarmChange(rule, "raised", True, at, detected))
        if not (state.active and n == missed - 1):
            out.append(AlarmChange(rule, reset, None, at, detected))
    return out
