"""Reports applied in the order the gateway made them, not the order they arrive (hub.domain.state).

A heartbeat carries the gateway's last event seq. One redelivered late by a broker (NATS redelivers
what a moved session had not acked), or read from the heartbeats' session while the events' session
ran ahead, was taken before events already applied: its device lines must not put a device back as
it was. Looked for after a cluster test's failure (4 devices stale for 60 s after a broker node's
death), of which it is a likely cause, not a proven one.
"""

from datetime import UTC, datetime, timedelta

from contract import Birth, DeviceInfo, DeviceStatus, Event, Snapshot
from hub.domain.state import HubState

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
S, G = "school-a", "gw-01"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def born(seq: int = 0) -> HubState:
    state = HubState(heartbeat_misses=3, default_interval_s=10)
    devices = [DeviceInfo(id=d, kind="panic", profile="p", interval_s=1) for d in ("panic-1", "panic-2")]
    state.on_birth(S, G, Birth(ts=at(0), seq=seq, devices=devices), at(0))
    return state


def heartbeat(seq: int, ts: float, **availability: str) -> Snapshot:
    lines = [DeviceStatus(device_id=d.replace("_", "-"), availability=a, since=at(0)) for d, a in availability.items()]
    return Snapshot(ts=at(ts), seq=seq, interval_s=10, devices=lines)


def went(seq: int, ts: float, device: str, availability: str) -> Event:
    return Event(
        event_id=f"evt-{seq:08d}", seq=seq, device_id=device, ts=at(ts), type="availability.changed",
        availability=availability,
    )  # fmt: skip


def shown(state: HubState, device: str) -> str:
    return state.devices[(S, device)].availability


def test_a_heartbeat_taken_before_an_applied_event_leaves_that_device_as_the_event_put_it() -> None:
    state = born()
    state.on_snapshot(S, G, heartbeat(5, 1, panic_1="online", panic_2="online"), at(1))
    state.on_event(S, G, went(6, 2, "panic-1", "offline"), at(2))
    assert shown(state, "panic-1") == "offline"
    # the heartbeat of t=1.5 (seq 5) arrives only now: panic-1 stays offline, panic-2 is unharmed
    state.on_snapshot(S, G, heartbeat(5, 1.5, panic_1="online", panic_2="offline"), at(3))
    assert (shown(state, "panic-1"), shown(state, "panic-2")) == ("offline", "offline")
    assert state.stale_lines == 1
    # the next heartbeat, taken after the event, applies in full
    state.on_snapshot(S, G, heartbeat(6, 4, panic_1="online", panic_2="online"), at(4))
    assert (shown(state, "panic-1"), shown(state, "panic-2")) == ("online", "online")


def test_a_late_heartbeat_after_a_newer_one_changes_nothing() -> None:
    state = born()
    state.on_snapshot(S, G, heartbeat(7, 1, panic_1="online", panic_2="online"), at(1))
    state.on_snapshot(S, G, heartbeat(9, 3, panic_1="offline", panic_2="online"), at(3))
    changes = state.on_snapshot(S, G, heartbeat(7, 1, panic_1="online", panic_2="online"), at(4))[0]
    assert changes == [] and shown(state, "panic-1") == "offline"
    assert state.stale_lines == 2


def test_an_event_older_than_the_last_heartbeat_does_not_undo_it() -> None:
    state = born()
    state.on_snapshot(S, G, heartbeat(12, 5, panic_1="online", panic_2="online"), at(5))
    state.on_event(S, G, went(11, 6, "panic-1", "offline"), at(6))  # resent; seq says it came before
    assert shown(state, "panic-1") == "online"


def test_a_new_birth_starts_the_order_again() -> None:
    """A gateway whose spool was replaced counts its seq from 0: its first heartbeat is not stale."""
    state = born()
    state.on_snapshot(S, G, heartbeat(900, 1, panic_1="offline", panic_2="online"), at(1))
    devices = [DeviceInfo(id=d, kind="panic", profile="p", interval_s=1) for d in ("panic-1", "panic-2")]
    state.on_birth(S, G, Birth(ts=at(2), seq=0, devices=devices), at(2))
    state.on_snapshot(S, G, heartbeat(0, 3, panic_1="online", panic_2="online"), at(3))
    assert shown(state, "panic-1") == "online" and state.stale_lines == 0


def test_the_extremes_of_seq_order_like_any_other() -> None:
    state = born()
    top = 2**63 - 1
    state.on_snapshot(S, G, heartbeat(top, 1, panic_1="offline", panic_2="online"), at(1))
    state.on_snapshot(S, G, heartbeat(0, 2, panic_1="online", panic_2="online"), at(2))
    assert shown(state, "panic-1") == "offline"
    state.on_snapshot(S, G, heartbeat(top, 3, panic_1="online", panic_2="online"), at(3))
    assert shown(state, "panic-1") == "online"
