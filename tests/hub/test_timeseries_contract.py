"""One contract for both time-series backends, the embedded SQLite store and InfluxDB (a real 1.6):
what ingest committed comes back as the same numbers, nothing is lost while the store keeps up, and
past the bound the oldest are dropped and counted. Then the embedded store's own rollups, retention
and API."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract import Birth, DeviceInfo, DeviceStatus, MessageType, Snapshot, TopicTree
from hub.api.series import device_series
from hub.app import build_services
from hub.auth.principal import Principal
from hub.auth.roles import Scope
from hub.timeseries.embedded import EmbeddedStore, embedded_path
from tests.hub.support import hub_settings, unique_prefix
from tests.hub.test_ingest_batches import Clock, deliver
from tests.support.influx import InfluxDB

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 27, 23, 58, tzinfo=SH).astimezone(UTC)  # two minutes before a Shanghai midnight
VOLTS = [9.1, 9.3, 0.0, 8.8]


class Backend:
    """A hub whose time series go to one backend, and a way to read a device's field back."""

    def __init__(self, kind: str, tmp_path: Path, influxdb: InfluxDB | None) -> None:
        self.kind, self.influxdb = kind, influxdb
        section: dict[str, Any] = {"backend": kind, "flush_s": 0.05, "buffer_max": 1_000}
        if kind == "influxdb":
            assert influxdb is not None
            influxdb.query('CREATE DATABASE "contract"')
            section["influxdb"] = {"url": influxdb.url, "database": "contract"}
        self.clock = Clock()
        self.settings = hub_settings(
            "mqtt://127.0.0.1:1", f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix(), timeseries=section,
            liveness={"check_every_s": 60},
        )  # fmt: skip
        self.svc = build_services(self.settings, now=self.clock)
        self.tree = TopicTree(self.settings.mqtt.topic_prefix)

    def close(self) -> None:
        if isinstance(self.svc.timeseries, EmbeddedStore):
            self.svc.timeseries.close()
        self.svc.sessions.kw["bind"].dispose()

    async def feed(self, volts: list[float], every_s: float = 60) -> None:
        infos = [DeviceInfo(id="fence-1", kind="fence", profile="p", location="北墙", interval_s=10)]
        await deliver(self.svc.ingest, self.tree, MessageType.BIRTH, Birth(ts=T0, seq=0, devices=infos))
        for n, value in enumerate(volts):
            self.clock.now = T0 + timedelta(seconds=every_s * n)
            state = "degraded" if value == 0 else "online"
            status = DeviceStatus(device_id="fence-1", availability=state, since=T0, metrics={"zone1_v": value})
            snap = Snapshot(ts=self.clock.now, seq=0, interval_s=10, devices=[status])
            await deliver(self.svc.ingest, self.tree, MessageType.STATUS, snap)

    async def read(self, field: str) -> list[float]:
        if isinstance(self.svc.timeseries, EmbeddedStore):
            key = ("school-a", "gw-01", "fence-1", field)
            _table, rows = self.svc.timeseries.query(key, T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1))
            return [mean for _t, mean, _lo, _hi in rows]
        assert self.influxdb is not None
        rows = self.influxdb.rows(f"SELECT {field} FROM device WHERE device = 'fence-1'", "contract")  # noqa: S608
        return [float(r[field]) for r in rows]


@pytest.fixture(params=["embedded", "influxdb"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    influxdb = InfluxDB(tmp_path / "influxdb").start() if request.param == "influxdb" else None
    b = Backend(request.param, tmp_path, influxdb)
    try:
        yield b
    finally:
        b.close()
        if influxdb:
            influxdb.stop()


async def running(b: Backend, until: Any, timeout_s: float = 20) -> None:
    sink = b.svc.timeseries
    assert sink is not None
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not await until():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


async def test_what_was_committed_comes_back_as_the_same_numbers(backend: Backend) -> None:
    await backend.feed(VOLTS)

    async def all_in() -> bool:
        return len(await backend.read("zone1_v")) == len(VOLTS)

    await running(backend, all_in)
    assert await backend.read("zone1_v") == VOLTS
    assert await backend.read("online") == [1, 1, 1, 1]
    assert await backend.read("intact") == [1, 1, 0, 1]  # degraded: online, not 完好
    sink = backend.svc.timeseries
    assert sink is not None and sink.held == 0 and sink.dropped == 0 and sink.received == sink.written


async def test_past_the_bound_the_oldest_are_dropped_and_counted(backend: Backend) -> None:
    sink = backend.svc.timeseries
    assert sink is not None
    bound = sink.settings.buffer_max
    await backend.feed([float(n % 7) for n in range(bound // 2 + 40)], every_s=1)  # 2 lines or 5 values each
    assert sink.held == bound and sink.dropped == sink.received - bound > 0


async def test_the_embedded_store_rolls_up_5_minutes_and_local_days_and_forgets_raw_values(tmp_path: Path) -> None:
    b = Backend("embedded", tmp_path, None)
    store = b.svc.timeseries
    assert isinstance(store, EmbeddedStore)
    assert store.path == embedded_path(b.settings) == tmp_path / "hub.timeseries.db"
    await b.feed([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], every_s=60)  # 23:58 .. 00:03 Shanghai: two days, two buckets

    async def written() -> bool:
        return store.held == 0 and store.written > 0

    await running(b, written)
    key = ("school-a", "gw-01", "fence-1", "zone1_v")
    store.rollup(T0 + timedelta(days=2))
    table, rows = store.query(key, T0 - timedelta(hours=1), T0 + timedelta(hours=1), T0 + timedelta(days=2))
    assert table == "raw" and [m for _, m, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    table, rows = store.query(key, T0 - timedelta(days=3), T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert table == "m5" and [(m, lo, hi) for _, m, lo, hi in rows] == [(1.5, 1, 2), (4.5, 3, 6)]  # 23:55, 00:00
    table, rows = store.query(key, T0 - timedelta(days=100), T0 + timedelta(days=1), T0 + timedelta(days=2))
    midnight = datetime(2026, 11, 28, tzinfo=SH).astimezone(UTC)
    assert table == "d1" and [(t, m) for t, m, _, _ in rows] == [
        (int((midnight - timedelta(days=1)).timestamp() * 1000), 1.5),  # 27 Nov, Shanghai: the first two
        (int(midnight.timestamp() * 1000), 4.5),
    ]
    store.rollup(T0 + timedelta(days=8))  # past raw_days: the raw values go, the buckets stay
    assert store.query(key, T0 - timedelta(hours=1), T0 + timedelta(hours=1), T0 + timedelta(days=2))[1] == []
    assert len(store.query(key, T0 - timedelta(days=3), T0 + timedelta(days=1), T0 + timedelta(days=8))[1]) == 2
    b.close()


async def test_the_api_serves_a_device_s_series_in_scope_and_says_when_there_is_no_store(tmp_path: Path) -> None:
    b = Backend("embedded", tmp_path, None)
    store = b.svc.timeseries
    assert isinstance(store, EmbeddedStore)
    await b.feed(VOLTS)

    async def written() -> bool:
        return store.written >= len(VOLTS)

    await running(b, written)
    b.clock.now = T0 + timedelta(hours=1)
    args = {"school_id": "school-a", "device_id": "fence-1", "field": "zone1_v", "start": None, "end": None}
    with b.svc.sessions() as session:
        out = await device_series(**args, session=session, svc=b.svc, who=Principal("it"))
        assert out.resolution == "raw" and [p.mean for p in out.points] == VOLTS
        other = Principal("g", authenticated=True, role="guard", scope=Scope(frozenset({"school-b"})))
        with pytest.raises(Exception, match="no device"):
            await device_series(**args, session=session, svc=b.svc, who=other)
        b.svc.timeseries = None
        with pytest.raises(Exception, match="no embedded time series"):
            await device_series(**args, session=session, svc=b.svc, who=Principal("it"))
    store.close()
    b.svc.sessions.kw["bind"].dispose()
