"""The sinks of ingest's pipeline: one contract every sink keeps, then what each one does.

The contract (``hub.sinks``): a sink has a name; ``committed`` is a plain function called on the
event loop that returns at once, takes any commit the store can make (none, many changes, alarms
of every shape the ledger writes) without raising, and ``notify`` keeps one failing sink from the
others. Every implementation runs the same contract tests.
"""

import asyncio
import gc
import inspect
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from contract import DeviceStatus, Snapshot, TopicTree
from hub.db.engine import make_engine, migrate, session_factory
from hub.domain.alarms import AlarmRecord, AlarmState, Condition
from hub.domain.state import ReceivedSnapshot
from hub.forwarding.settings import ForwardingSettings
from hub.forwarding.worker import Forwarder
from hub.live import Broadcaster, LiveEvent
from hub.sinks import Committed, Sink, notify
from hub.snapshots import Snapshots
from hub.timeseries.settings import TimeSeriesSettings
from hub.timeseries.sink import TimeSeriesSink

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
FORWARDING = ForwardingSettings.model_validate(
    {
        "receivers": {"arc-1": {"type": "dc09", "host": "127.0.0.1", "port": 9, "account": "1234"}},
        "routes": [{"name": "police", "primary": "arc-1"}],
    }
)


def alarm(**fields: Any) -> dict[str, Any]:
    """An alarm as the store hands it to the sinks (every column, times as text)."""
    record = AlarmRecord(
        id="a1",
        school_id="school-a",
        gateway_id="gw-01",
        device_id="cam-1",
        kind="camera_covered",
        zone=None,
        severity="major",
        latched=False,
        raised_at=T0,
        received_at=T0,
    )
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(record).items()}
    return {**data, "state": str(AlarmState.RAISED), "condition": str(Condition.ACTIVE), **fields}


class Published:
    """A stand-in for the MQTT link's publish: records what the snapshot fetcher asks gateways for."""

    def __init__(self) -> None:
        self.topics: list[str] = []

    async def __call__(self, topic: str, payload: bytes) -> bool:
        self.topics.append(topic)
        return False  # not connected: the fetch gives up at once, as it would with the broker away


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> sessionmaker[Session]:
    """A migrated hub database (SQLite) for the sinks that read or write one."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('sinks') / 'hub.db'}")
    migrate(engine)
    return session_factory(engine)


def forwarder(sessions: sessionmaker[Session]) -> Forwarder:
    return Forwarder(FORWARDING, sessions, senders={})


def snapshots(sessions: sessionmaker[Session], publish: Published | None = None) -> Snapshots:
    return Snapshots(sessions, TopicTree("t/v1"), publish or Published(), timeout_s=0.1)


def timeseries(_sessions: sessionmaker[Session]) -> TimeSeriesSink:
    settings = TimeSeriesSettings.model_validate({"backend": "influxdb", "buffer_max": 1_000})
    return TimeSeriesSink(settings, lambda _school, _device: ("fence", ""))


SINKS: dict[str, Callable[[sessionmaker[Session]], Sink]] = {
    "live": lambda _sessions: Broadcaster(),
    "forwarding": forwarder,
    "snapshots": snapshots,
    "timeseries": timeseries,  # committed only queues; its writer is tested in test_timeseries.py
}
COMMITS = {
    "empty": Committed(T0),
    "many changes": Committed(T0, tuple(LiveEvent(n, "device", {"device_id": f"d{n}"}) for n in range(10_000))),
    "alarms of every state": Committed(
        T0,
        alarms=(
            alarm(),
            alarm(id="a2", image_id=None),
            alarm(id="a3", state="acknowledged"),
            alarm(id="a4", state="resolved", condition="cleared"),
            alarm(id="a5", device_id=None, kind="gateway_offline"),
        ),
        forwarded=3,
    ),
    "heartbeats only": Committed(
        T0,
        snapshots=tuple(
            ReceivedSnapshot(
                f"school-{n}",
                "gw-01",
                T0,
                Snapshot(
                    ts=T0,
                    seq=n,
                    interval_s=10,
                    devices=[
                        DeviceStatus(device_id=f"d{k}", availability="online", since=T0, metrics={"poll_ms": 1.5})
                        for k in range(50)
                    ],
                ),
                frozenset(f"d{k}" for k in range(25, 50)),
            )
            for n in range(200)
        ),
    ),
}


@pytest.fixture(params=sorted(SINKS))
def sink(request: pytest.FixtureRequest, sessions: sessionmaker[Session]) -> Sink:
    return SINKS[request.param](sessions)


def test_a_sink_has_a_name_and_reacts_synchronously(sink: Sink) -> None:
    assert sink.name and isinstance(sink.name, str)
    assert not inspect.iscoroutinefunction(sink.committed)


@pytest.mark.parametrize("commit", COMMITS.values(), ids=list(COMMITS))
async def test_a_sink_takes_any_commit_without_raising(sink: Sink, commit: Committed) -> None:
    unhandled: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unhandled.append(context))
    assert sink.committed(commit) is None
    await asyncio.sleep(0.3)  # whatever it started in the background ends without an unhandled error
    if isinstance(sink, Snapshots):
        await sink.close()
    gc.collect()  # a task whose exception nobody retrieved reports it when collected
    assert unhandled == []


async def test_one_failing_sink_costs_the_others_nothing(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        name = "broken"

        def committed(self, commit: Committed) -> None:
            raise RuntimeError("a bug")

    live = Broadcaster()
    queue = live.subscribe()
    notify([Broken(), live], Committed(T0, (LiveEvent(1, "device", {}),)))
    assert queue.get_nowait() == LiveEvent(1, "device", {})
    assert "sink broken failed" in caplog.text


# --- what each sink does -----------------------------------------------------------------------


def test_the_live_sink_sends_every_change_in_order() -> None:
    live = Broadcaster()
    queue = live.subscribe()
    changes = tuple(LiveEvent(n, "alarm", {"n": n}) for n in range(1, 4))
    live.committed(Committed(T0, changes))
    assert [queue.get_nowait() for _ in changes] == list(changes)


async def test_the_forwarder_looks_at_once_when_outbox_rows_were_committed(sessions: sessionmaker[Session]) -> None:
    sink = forwarder(sessions)
    sink.committed(Committed(T0, alarms=(alarm(),), forwarded=0))
    assert not any(event.is_set() for event in sink._wakes.values())
    sink.committed(Committed(T0, forwarded=1))
    assert all(event.is_set() for event in sink._wakes.values())


async def test_the_snapshot_sink_asks_the_gateway_for_a_raised_alarms_picture(
    sessions: sessionmaker[Session],
) -> None:
    published = Published()
    sink = snapshots(sessions, published)
    sink.committed(Committed(T0, alarms=(alarm(image_id="cam-1.42"), alarm(id="a2", image_id=None))))
    await asyncio.sleep(0.2)
    assert published.topics == ["t/v1/school-a/gw-01/command"]  # one picture asked for, of its gateway
    sink.committed(Committed(T0, alarms=(alarm(id="a3", image_id="cam-1.43", state="resolved"),)))
    await asyncio.sleep(0.2)
    assert len(published.topics) == 1  # a resolved alarm's picture is not fetched ahead
    await sink.close()
