"""The offline-alarm policy, without a database (hub.domain.offline)."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.alarms import HubKind
from hub.domain.offline import OfflineCall, offline_calls
from hub.domain.state import GATEWAY_OFFLINE, Change

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def change(device: str | None, availability: str, previous: str, reason: str | None = None, s: int = 0) -> Change:
    return Change("school-a", "gw-01", device, availability, reason, T0 + timedelta(seconds=s), previous)


def call(device: str | None, active: bool, s: int = 0) -> OfflineCall:
    kind = HubKind.GATEWAY_OFFLINE if device is None else HubKind.DEVICE_OFFLINE
    return OfflineCall("school-a", "gw-01", device, kind, active, T0 + timedelta(seconds=s))


OPEN_PANIC: set[tuple[str, str | None, str]] = {("school-a", "panic-1", "device_offline")}
OPEN_GATEWAY: set[tuple[str, str | None, str]] = {("school-a", None, "gateway_offline")}

CASES = [
    # (name, changes, open alarms, expected calls)
    ("device goes offline", [change("panic-1", "offline", "online", "timeout")], set(), [call("panic-1", True)]),
    ("device degraded is not offline", [change("cam-1", "degraded", "online", "black")], set(), []),
    ("unknown to online raises nothing", [change("panic-1", "online", "unknown")], set(), []),
    ("unknown to offline raises", [change("panic-1", "offline", "unknown", "timeout")], set(), [call("panic-1", True)]),
    ("recovery clears the open alarm", [change("panic-1", "online", "offline")], OPEN_PANIC, [call("panic-1", False)]),
    ("recovery with none open calls for nothing", [change("panic-1", "online", "offline")], set(), []),
    (
        "recovery to degraded still clears",
        [change("cam-1", "degraded", "offline")],
        {("school-a", "cam-1", "device_offline")},
        [call("cam-1", False)],
    ),
    ("gateway goes offline", [change(None, "offline", "online", "heartbeat")], set(), [call(None, True)]),
    ("gateway back clears", [change(None, "online", "offline")], OPEN_GATEWAY, [call(None, False)]),
    (
        "device shown offline for its gateway raises nothing",
        [change("panic-1", "offline", "online", GATEWAY_OFFLINE)],
        set(),
        [],
    ),
    (
        "device shown back with its gateway clears nothing",
        [change("panic-1", "online", "offline", GATEWAY_OFFLINE)],
        OPEN_PANIC,
        [],
    ),
    (
        "offline then back in one batch: raise, then clear",
        [change("panic-1", "offline", "online", "timeout"), change("panic-1", "online", "offline", s=1)],
        set(),
        [call("panic-1", True), call("panic-1", False, s=1)],
    ),
    (
        "two recoveries clear once",
        [change("panic-1", "online", "offline"), change("panic-1", "online", "offline", s=1)],
        OPEN_PANIC,
        [call("panic-1", False)],
    ),
    (
        "another school's open alarm is not this one's",
        [change("panic-1", "online", "offline")],
        {("school-b", "panic-1", "device_offline")},
        [],
    ),
    ("empty batch", [], OPEN_PANIC, []),
]


@pytest.mark.parametrize(("changes", "open_alarms", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_offline_policy(
    changes: list[Change], open_alarms: set[tuple[str, str | None, str]], expected: list[OfflineCall]
) -> None:
    assert offline_calls(changes, open_alarms) == expected


def test_the_callers_set_is_not_changed() -> None:
    open_alarms = set(OPEN_PANIC)
    offline_calls([change("panic-1", "online", "offline"), change("gate-1", "offline", "online")], open_alarms)
    assert open_alarms == OPEN_PANIC
