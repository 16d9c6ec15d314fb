"""Ingest without a broker: unchanged snapshots cost no writes, changes are written in bulk, decoding is exact."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from contract import Birth, ContractError, DeviceInfo, DeviceStatus, MessageType, Snapshot, TopicTree, decode, encode
from contract.messages import SCHEMA_VERSION
from hub.app import build_services
from hub.db.models import Alarm, Device, LiveRow, Transition
from hub.decoding import decode_payload
from hub.ingest import Ingest
from hub.sinks import Committed
from tests.hub.support import hub_settings, unique_prefix

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DEVICES = ["fence-1", "fence-2", "panic-1"]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def birth(devices: list[str]) -> Birth:
    """An inventory of fences."""
    infos = [DeviceInfo(id=d, kind="fence", profile="fence/generic-dwz4", interval_s=1) for d in devices]
    return Birth(ts=T0, seq=0, devices=infos)


def snapshot(states: dict[str, str], at: datetime) -> Snapshot:
    """A heartbeat with each device's availability."""
    devices = [
        DeviceStatus(device_id=d, availability=a, since=at, metrics={"polls": int(at.timestamp())})  # type: ignore[arg-type]
        for d, a in states.items()
    ]
    return Snapshot(ts=at, seq=0, interval_s=1, devices=devices)


async def deliver(ingest: Ingest, tree: TopicTree, message_type: MessageType, message: Birth | Snapshot) -> None:
    """Parse one message as the MQTT reader would and process it as one batch."""
    item = ingest.parse(tree.topic("school-a", "gw-01", message_type), encode(message))
    assert item is not None
    await ingest._process([item])


def count(ingest: Ingest, model: Any, *where: Any) -> int:
    """Rows of a table, as committed."""
    with ingest.store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_unchanged_snapshots_write_nothing_and_changes_write_once(db_url: str) -> None:
    prefix = unique_prefix()
    # check_every_s 60: the sweep runs in the first batch only, so later batches are the snapshots' own.
    settings_ = hub_settings("mqtt://127.0.0.1:1", db_url, prefix, liveness={"check_every_s": 60})
    clock = Clock()
    svc = build_services(settings_, now=clock)
    ingest, tree = svc.ingest, TopicTree(prefix)
    await deliver(ingest, tree, MessageType.BIRTH, birth(DEVICES))
    await deliver(ingest, tree, MessageType.STATUS, snapshot(dict.fromkeys(DEVICES, "online"), T0))
    assert count(ingest, Device, Device.availability == "online") == 3
    transitions, live_rows, batches = count(ingest, Transition), count(ingest, LiveRow), ingest.metrics.batches
    assert transitions == 4  # the gateway, then each device unknown -> online

    for n in range(1, 6):  # heartbeats with fresh timestamps and metrics, nothing else new
        clock.now = T0 + timedelta(seconds=n)
        await deliver(ingest, tree, MessageType.STATUS, snapshot(dict.fromkeys(DEVICES, "online"), clock.now))
    assert (count(ingest, Transition), count(ingest, LiveRow)) == (transitions, live_rows)
    assert ingest.metrics.batches == batches  # not even an empty transaction
    assert ingest.metrics.device_updates == 6 * len(DEVICES)

    clock.now = T0 + timedelta(seconds=10)
    await deliver(
        ingest,
        tree,
        MessageType.STATUS,
        snapshot({**dict.fromkeys(DEVICES, "online"), "fence-2": "offline"}, clock.now),
    )
    assert count(ingest, Transition) == transitions + 1
    assert count(ingest, Device, Device.availability == "offline") == 1
    assert count(ingest, Alarm, Alarm.kind == "device_offline", Alarm.condition == "active") == 1

    clock.now = T0 + timedelta(seconds=11)
    await deliver(ingest, tree, MessageType.STATUS, snapshot(dict.fromkeys(DEVICES, "online"), clock.now))
    assert count(ingest, Transition) == transitions + 2
    assert count(ingest, Alarm, Alarm.kind == "device_offline", Alarm.condition == "cleared") == 1
    assert count(ingest, Alarm) == 1

    await deliver(ingest, tree, MessageType.BIRTH, birth(["fence-1", "fence-3"]))  # re-birth: one new, two known
    assert count(ingest, Device) == 4
    with ingest.store.sessions() as session:
        moved = session.get(Device, ("school-a", "fence-1"))
        assert moved is not None and (moved.kind, moved.availability) == ("fence", "online")
    svc.sessions.kw["bind"].dispose()


class Recorder:
    """A sink that keeps every commit it is told of."""

    name = "recorder"
    heartbeats = True

    def __init__(self) -> None:
        self.commits: list[Committed] = []

    def committed(self, commit: Committed) -> None:
        self.commits.append(commit)


async def test_the_sinks_take_every_heartbeats_metrics_even_when_nothing_is_written(db_url: str) -> None:
    prefix = unique_prefix()
    settings_ = hub_settings("mqtt://127.0.0.1:1", db_url, prefix, liveness={"check_every_s": 60})
    clock, recorder = Clock(), Recorder()
    svc = build_services(settings_, now=clock, extra_sinks=[recorder])
    ingest, tree = svc.ingest, TopicTree(prefix)
    await deliver(ingest, tree, MessageType.BIRTH, birth(DEVICES))
    await deliver(ingest, tree, MessageType.STATUS, snapshot(dict.fromkeys(DEVICES, "online"), T0))
    batches = ingest.metrics.batches
    # A heartbeat that changes nothing, listing a device of another gateway (forged or stale) and one unknown.
    clock.now = T0 + timedelta(seconds=1)
    other = Birth(ts=T0, seq=0, devices=[DeviceInfo(id="gate-9", kind="gate", profile="p", interval_s=1)])
    item = ingest.parse(tree.topic("school-a", "gw-02", MessageType.BIRTH), encode(other))
    assert item is not None
    await ingest._process([item])
    recorder.commits.clear()
    await deliver(
        ingest,
        tree,
        MessageType.STATUS,
        snapshot({**dict.fromkeys(DEVICES, "online"), "gate-9": "online", "x": "online"}, clock.now),
    )
    assert ingest.metrics.batches == batches + 1  # gw-02's birth only: the heartbeat needed no transaction
    [commit] = recorder.commits
    assert (commit.changes, commit.alarms) == ((), ())
    [received] = commit.snapshots
    assert (received.school_id, received.gateway_id, received.received_at) == ("school-a", "gw-01", clock.now)
    assert received.foreign == {"gate-9", "x"}  # gate-9 is gw-02's, x is nobody's
    assert [d for d in DEVICES if received.owns(d)] == DEVICES
    assert {d.device_id: d.metrics for d in received.snapshot.devices}["fence-1"] == {
        "polls": int(clock.now.timestamp())
    }
    # The device's page shows the last metrics; a device another gateway claims keeps its own.
    assert ingest.state.metrics("school-a", "fence-1") == ({"polls": int(clock.now.timestamp())}, clock.now)
    assert ingest.state.metrics("school-a", "gate-9") is None  # gw-02 has sent no heartbeat of its own
    # A heartbeat with a change reaches the sinks in the same commit as the change.
    clock.now = T0 + timedelta(seconds=2)
    await deliver(
        ingest,
        tree,
        MessageType.STATUS,
        snapshot({**dict.fromkeys(DEVICES, "online"), "fence-2": "offline"}, clock.now),
    )
    commit = recorder.commits[-1]
    assert [c.data["id"] for c in commit.changes if c.type == "device"] == ["fence-2"]
    assert [r.snapshot.ts for r in commit.snapshots] == [clock.now]
    svc.sessions.kw["bind"].dispose()


VALID_SNAPSHOT: dict[str, Any] = json.loads(encode(snapshot({"fence-1": "online", "fence-2": "degraded"}, T0)))
FIELD_VALUES = st.sampled_from(
    [None, 1, -1, 1.5, "", "x", "1", "2025-01-01T00:00:00", "2025-01-01T00:00:00Z", [], {}, True, "2.0", "1.0", "1.9"]
)
payloads = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from([*VALID_SNAPSHOT, "extra"]), FIELD_VALUES).map(
        lambda patch: json.dumps({**VALID_SNAPSHOT, **patch}).encode()
    ),
    st.sampled_from(sorted(VALID_SNAPSHOT)).map(
        lambda drop: json.dumps({k: v for k, v in VALID_SNAPSHOT.items() if k != drop}).encode()
    ),
    st.dictionaries(
        st.sampled_from(["device_id", "availability", "since", "metrics", "reason", "x"]), FIELD_VALUES
    ).map(
        lambda patch: json.dumps({**VALID_SNAPSHOT, "devices": [{**VALID_SNAPSHOT["devices"][0], **patch}]}).encode()
    ),
)


def outcome(payload: bytes, decoder: Any) -> tuple[str, Any]:
    """What a decoder makes of a payload: the message's data, or the reject's reason and text."""
    try:
        return "ok", decoder(MessageType.STATUS, payload).model_dump()
    except ContractError as exc:
        return exc.reason, str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads)
def test_fast_decoding_accepts_and_rejects_exactly_like_the_contract(payload: bytes) -> None:
    assert outcome(payload, decode_payload) == outcome(payload, decode)


@pytest.mark.parametrize("version", [SCHEMA_VERSION, "1.0", "1.99", "2.0", None])
def test_fast_decoding_follows_the_version_rules(version: str | None) -> None:
    data = {k: v for k, v in VALID_SNAPSHOT.items() if k != "schema_version"}
    if version is not None:
        data["schema_version"] = version
    payload = json.dumps(data).encode()
    assert outcome(payload, decode_payload) == outcome(payload, decode)


async def test_the_watchdog_waits_while_ingest_is_behind_then_judges(db_url: str) -> None:
    """Snapshots queued behind a backlog are not silence; a gateway silent once ingest caught up is offline."""
    prefix = unique_prefix()
    settings_ = hub_settings(
        "mqtt://127.0.0.1:1",
        db_url,
        prefix,
        ingest={"queue_max": 100},
        liveness={"check_every_s": 0.01, "default_snapshot_interval_s": 0.2},
    )
    clock = Clock()
    svc = build_services(settings_, now=clock)
    ingest, tree = svc.ingest, TopicTree(prefix)
    ingest.is_leader = lambda: True  # on PostgreSQL the sweep leader is elected by a task not run here
    await deliver(ingest, tree, MessageType.BIRTH, birth(DEVICES))
    await deliver(ingest, tree, MessageType.STATUS, snapshot(dict.fromkeys(DEVICES, "online"), T0))
    backlog = encode(snapshot({"fence-9": "online"}, T0))
    for _ in range(60):  # another gateway's snapshots: the lane is more than half full
        await ingest.feed(tree.topic("school-b", "gw-02", MessageType.STATUS), backlog)

    clock.now = T0 + timedelta(seconds=30)  # ten snapshot intervals after school A's last word
    await asyncio.sleep(0.02)  # check_every_s
    await ingest._process([], ingest.telemetry)
    assert ingest.metrics.watchdog_deferred == 1
    assert count(ingest, Device, Device.availability == "offline") == 0

    while ingest.telemetry.take_nowait() is not None:  # caught up
        pass
    await asyncio.sleep(3 * 0.2 + 0.1)  # one heartbeat window after the queue was last half full
    await ingest._process([], ingest.telemetry)
    assert count(ingest, Device, Device.availability == "offline", Device.reason == "gateway_offline") == 3
    svc.sessions.kw["bind"].dispose()
