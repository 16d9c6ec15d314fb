"""The time-series sink: line protocol, the write requests of both APIs, and a real InfluxDB 1.6.

InfluxDB 2.x and 3.x cannot be installed here (Debian ships 1.6; no Docker): the v2 request is
checked as a contract (path, parameters, headers, body) against what the 2.x API documents.
"""

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import httpx
import pytest

from contract import Birth, DeviceInfo, DeviceStatus, MessageType, Snapshot, TopicTree, encode
from contract.messages import SpoolStats
from hub.app import build_services
from hub.domain.state import ReceivedSnapshot
from hub.live import LiveEvent
from hub.sinks import Committed
from hub.timeseries.lineproto import line, ns
from hub.timeseries.points import change_lines
from hub.timeseries.settings import TimeSeriesSettings
from hub.timeseries.sink import TimeSeriesSink
from tests.hub.support import hub_settings, running_hub, unique_prefix
from tests.hub.test_ingest_batches import Clock, deliver
from tests.support.influx import InfluxDB
from tests.support.servers import Mosquitto

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


# --- line protocol ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "fields", "expected"),
    [
        ({"school": "s"}, {"v": 1.5}, "m,school=s v=1.5"),
        ({}, {"n": 2**63 - 1, "b": True, "z": 0}, f"m n={2**63 - 1}i,b=true,z=0i"),
        ({"location": "北门 保安室"}, {"t": 'say "hi"\\'}, r'm,location=北门\ 保安室 t="say \"hi\"\\"'),
        ({"a,b=c d": "x,y=z w"}, {"k=1 2": 1}, r"m,a\,b\=c\ d=x\,y\=z\ w k\=1\ 2=1i"),
        ({"empty": "", "none": None}, {"v": 1}, "m v=1i"),  # no empty tags in the protocol
        ({"x": "two\nlines"}, {"s": "a\nb"}, 'm,x=two\\ lines s="a b"'),
        ({"x": "ends\\"}, {"v": 1}, "m,x=ends v=1i"),  # a trailing backslash would escape the separator
        ({}, {"nan": math.nan, "inf": math.inf, "ok": -0.5}, "m ok=-0.5"),
        ({}, {"none": None, "s": ""}, 'm s=""'),
    ],
)
def test_line_protocol_escapes_and_types(tags: dict[str, Any], fields: dict[str, Any], expected: str) -> None:
    assert line("m", tags, fields, T0) == f"{expected} {ns(T0)}"


def test_a_line_with_nothing_writable_is_not_written_and_long_text_is_cut() -> None:
    assert line("m", {"a": "b"}, {"x": math.nan, "y": None}, T0) is None
    text = line("m", {}, {"s": "x" * 1_000_000}, T0)
    assert text is not None and len(text) < 1_100
    assert ns(datetime(1, 1, 1, tzinfo=UTC)) < 0 and ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    london = datetime(2026, 10, 6, tzinfo=ZoneInfo("Europe/London"))  # BST: 23:00 UTC the day before
    assert ns(london) == ns(datetime(2026, 10, 5, 23, tzinfo=UTC)) == ns(london.astimezone(ZoneInfo("Asia/Shanghai")))


# --- the write requests ----------------------------------------------------------------------


class Recorder:
    """Stands in for the HTTP client: records requests, answers with the given statuses in turn."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [204]
        self.requests: list[tuple[str, dict[str, str], dict[str, str], bytes]] = []

    async def __call__(self, url: str, params: dict[str, str], headers: dict[str, str], body: bytes) -> httpx.Response:
        self.requests.append((url, params, headers, body))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == 0:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(status, text='{"error":"partial write: field type conflict"}' if status == 400 else "")


def heartbeat(devices: int = 3, school: str = "school-a") -> Committed:
    statuses = [
        DeviceStatus(device_id=f"d{n}", availability="online", since=T0, metrics={"battery_v": 13.2, "polls": n})
        for n in range(devices)
    ]
    snap = Snapshot(
        ts=T0,
        seq=5,
        interval_s=10,
        devices=statuses,
        spool=SpoolStats(pending_events=2, pending_alarms=1, dropped_telemetry=0),
    )
    return Committed(T0, snapshots=(ReceivedSnapshot(school, "gw-01", T0 + timedelta(seconds=0.25), snap),))


def sink(post: Recorder, **settings: Any) -> TimeSeriesSink:
    cfg = TimeSeriesSettings.model_validate({"backend": "influxdb", "flush_s": 0.05, "retry_max_s": 0.2, **settings})
    return TimeSeriesSink(cfg, lambda _school, device: ("fence", f"{device} 北墙"), post=post)


async def run_until(s: TimeSeriesSink, done: Any, timeout_s: float = 5.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def test_the_v2_request_is_what_the_2x_api_documents() -> None:
    post = Recorder()
    s = sink(
        post, influxdb={"api": "v2", "url": "http://influx.example:8086/", "org": "edu", "bucket": "cg", "token": "t0k"}
    )
    s.committed(heartbeat())
    await run_until(s, lambda: s.written)
    [(url, params, headers, body)] = post.requests
    assert url == "http://influx.example:8086/api/v2/write"
    assert params == {"org": "edu", "bucket": "cg", "precision": "ns"}
    assert headers == {"Content-Type": "text/plain; charset=utf-8", "Authorization": "Token t0k"}
    lines = body.decode().split("\n")
    assert lines[0] == (
        f"device,device=d0,gateway=gw-01,kind=fence,location=d0\\ 北墙,school=school-a "
        f'battery_v=13.2,polls=0i,availability="online",online=1i,intact=1i {ns(T0)}'
    )
    assert lines[-1] == (
        f"gateway,gateway=gw-01,school=school-a devices=3i,lag_s=0.25,seq=5i,pending_events=2i,"
        f"pending_alarms=1i,dropped_telemetry=0i,spool_write_errors=0i,spool_failing=false {ns(T0)}"
    )


async def test_the_v1_request_names_the_database_policy_and_credentials() -> None:
    post = Recorder()
    influx = {"api": "v1", "database": "cg", "retention_policy": "ninety_days", "username": "hub", "password": "pw"}
    s = sink(post, influxdb=influx)
    s.committed(heartbeat(1))
    await run_until(s, lambda: s.written)
    url, params, _headers, _body = post.requests[0]
    assert url == "http://127.0.0.1:8086/write"
    assert params == {"db": "cg", "precision": "ns", "rp": "ninety_days", "u": "hub", "p": "pw"}


async def test_failed_writes_are_retried_and_refused_lines_are_not() -> None:
    post = Recorder(0, 503, 401, 204)  # refused connection, unavailable, wrong credentials, then written
    s = sink(post)
    s.committed(heartbeat(2))
    await run_until(s, lambda: s.written)
    assert (s.failures, s.written, s.held) == (3, 3, 0)
    assert len({r[3] for r in post.requests}) == 1  # the same lines every time, none lost

    post = Recorder(400)  # a field type conflict: retrying would never succeed
    s = sink(post)
    s.committed(heartbeat(2))
    await run_until(s, lambda: s.rejected)
    await asyncio.sleep(0.2)
    assert (len(post.requests), s.rejected, s.failures, s.held) == (1, 3, 0, 0)


async def test_a_batch_too_large_is_split_and_the_buffer_drops_the_oldest_past_its_bound() -> None:
    post = Recorder(413, 204)
    s = sink(post, batch_max=10)
    s.committed(heartbeat(9))  # 10 lines
    await run_until(s, lambda: s.written == 10)
    assert [len(r[3].split(b"\n")) for r in post.requests] == [10, 5, 5]

    s = sink(Recorder(0), buffer_max=1_000, batch_max=100)
    for n in range(30):
        s.committed(heartbeat(99, school=f"school-{n}"))  # 100 lines each
    assert (s.held, s.dropped) == (1_000, 2_000)


# --- a real InfluxDB 1.6 -----------------------------------------------------------------------


async def test_the_demo_path_reaches_a_real_influxdb_and_survives_its_outage(db_url: str, tmp_path: Any) -> None:
    influxdb = InfluxDB(tmp_path / "influxdb").start()  # its own: this test stops and restarts it
    database = f"t_{uuid.uuid4().hex[:8]}"
    influxdb.query(f'CREATE DATABASE "{database}"')
    prefix = unique_prefix()
    timeseries = {"backend": "influxdb", "flush_s": 0.1, "retry_max_s": 0.5,
                  "influxdb": {"url": influxdb.url, "database": database}}  # fmt: skip
    settings = hub_settings("mqtt://127.0.0.1:1", db_url, prefix, liveness={"check_every_s": 60}, timeseries=timeseries)
    clock = Clock()
    svc = build_services(settings, now=clock)
    assert svc.timeseries is not None
    stop = asyncio.Event()
    task = asyncio.create_task(svc.timeseries.run(stop))
    tree = TopicTree(prefix)
    try:
        infos = [DeviceInfo(id="fence-1", kind="fence", profile="p", location="北墙 2 号", interval_s=1)]
        await deliver(svc.ingest, tree, MessageType.BIRTH, Birth(ts=T0, seq=0, devices=infos))
        for n, volts in enumerate([9.1, 9.3, 0.0]):
            clock.now = T0 + timedelta(seconds=10 * n)
            status = DeviceStatus(device_id="fence-1", availability="online", since=T0, metrics={"zone1_v": volts})
            await deliver(
                svc.ingest, tree, MessageType.STATUS, Snapshot(ts=clock.now, seq=0, interval_s=10, devices=[status])
            )

        async def rows(q: str, at_least: int = 1) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for _ in range(300):  # until that many rows are in (a loaded machine writes late)
                found = influxdb.rows(q, database) if influxdb.query("SHOW MEASUREMENTS", database) else []
                if len(found) >= at_least:
                    break
                await asyncio.sleep(0.05)
            return found

        found = await rows("SELECT zone1_v, intact FROM device WHERE location = '北墙 2 号' GROUP BY \"kind\"", 3)
        assert [(r["kind"], r["zone1_v"], r["intact"]) for r in found] == [
            ("fence", 9.1, 1),
            ("fence", 9.3, 1),
            ("fence", 0.0, 1),
        ]
        changes = await rows("SELECT availability, previous FROM availability_change GROUP BY device")
        assert {(r.get("device"), r["availability"]) for r in changes} >= {("fence-1", "online")}

        influxdb.stop()  # InfluxDB away: the hub goes on, lines wait
        for n in range(3, 23):
            clock.now = T0 + timedelta(seconds=10 * n)
            status = DeviceStatus(device_id="fence-1", availability="online", since=T0, metrics={"zone1_v": float(n)})
            await deliver(
                svc.ingest, tree, MessageType.STATUS, Snapshot(ts=clock.now, seq=0, interval_s=10, devices=[status])
            )
        await asyncio.sleep(0.5)
        assert svc.timeseries.failures >= 1 and svc.timeseries.held >= 40
        influxdb.start()  # back: what waited is written, nothing lost
        found = await rows("SELECT count(zone1_v) FROM device")
        for _ in range(300):
            if influxdb.rows("SELECT count(zone1_v) FROM device", database)[0]["count"] == 23:
                break
            await asyncio.sleep(0.1)
        assert influxdb.rows("SELECT count(zone1_v) FROM device", database)[0]["count"] == 23
        assert svc.timeseries.held == 0 and svc.timeseries.dropped == 0
    finally:
        stop.set()
        await task
        svc.sessions.kw["bind"].dispose()
        influxdb.stop()


def test_a_v2_influxdb_needs_org_and_bucket_and_a_token_file_must_exist(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="org and bucket"):
        TimeSeriesSettings.model_validate({"backend": "influxdb", "influxdb": {"api": "v2"}})
    settings = TimeSeriesSettings.model_validate(
        {
            "backend": "influxdb",
            "influxdb": {"api": "v2", "org": "o", "bucket": "b", "token_file": str(tmp_path / "none")},
        }
    )
    with pytest.raises(Exception, match="token_file"):
        TimeSeriesSink(settings, lambda _s, _d: ("", "")).request()


async def test_a_running_hub_writes_its_metrics_to_influxdb_and_says_so(
    mosquitto: Mosquitto, db_url: str, tmp_path: Any
) -> None:
    influxdb = InfluxDB(tmp_path / "influxdb").start()
    try:
        influxdb.query('CREATE DATABASE "cg"')
        timeseries = {"backend": "influxdb", "flush_s": 0.1, "hub_every_s": 0.2,
                      "influxdb": {"url": influxdb.url, "database": "cg"}}  # fmt: skip
        settings = hub_settings(mosquitto.url, db_url, unique_prefix(), timeseries=timeseries)
        async with running_hub(settings) as hub:
            tree = TopicTree(settings.mqtt.topic_prefix)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as gateway:
                infos = [DeviceInfo(id="cam-1", kind="camera", profile="p", interval_s=1)]
                await gateway.publish(
                    tree.topic("school-a", "gw-01", MessageType.BIRTH),
                    encode(Birth(ts=T0, seq=0, devices=infos)),
                    qos=1,
                )
                status = DeviceStatus(
                    device_id="cam-1", availability="degraded", reason="covered", since=T0, metrics={"fps": 25.0}
                )
                snap = Snapshot(ts=datetime.now(UTC), seq=0, interval_s=1, devices=[status])
                await gateway.publish(tree.topic("school-a", "gw-01", MessageType.STATUS), encode(snap), qos=1)
            rows: list[dict[str, Any]] = []
            query = "SELECT fps, online, intact FROM device"
            for _ in range(300):  # the device lines, not only the birth's changes (a loaded machine is slow)
                if influxdb.query("SHOW MEASUREMENTS", "cg") and (rows := influxdb.rows(query, "cg")):
                    break
                await asyncio.sleep(0.1)
            assert [(r["fps"], r["online"], r["intact"]) for r in rows] == [(25.0, 1, 0)]  # covered: online, not 完好
            assert hub.services.tasks["timeseries"].running
            assert "timeseries_written_lines" in (await hub.http.get("/metrics")).text
            own: list[dict[str, Any]] = []
            for _ in range(100):  # its own dashboard: a line written after the heartbeat was counted
                own = influxdb.rows("SELECT device_updates, ingest_queue_depth FROM hub", "cg")
                if own and own[-1]["device_updates"] >= 1:
                    break
                await asyncio.sleep(0.1)
            assert own and own[-1]["device_updates"] >= 1 and hub.services.tasks["daily_rates"].running
    finally:
        influxdb.stop()


def test_changes_and_alarms_become_lines_and_other_changes_are_skipped() -> None:
    changes = [
        LiveEvent(1, "device", {"school_id": "s", "gateway_id": "g", "id": "d1", "availability": "offline",
                                "previous": "online", "reason": "timeout", "since": T0.isoformat()}),
        LiveEvent(2, "gateway", {"school_id": "s", "gateway_id": "g", "id": "g", "availability": "online",
                                 "previous": "unknown", "reason": None, "since": "not a time"}),
        LiveEvent(3, "alarm", {"id": "a1", "school_id": "s", "gateway_id": "g", "device_id": "d1", "kind": "panic",
                               "severity": "critical", "state": "raised", "condition": "active",
                               "escalation_level": 0, "zone": None}),
        LiveEvent(4, "account", {"user": "x"}),
    ]  # fmt: skip
    at = T0 + timedelta(minutes=1)
    lines = list(change_lines(changes, lambda _s, _d: ("fence", ""), at))
    assert lines == [
        "availability_change,device=d1,gateway=g,kind=fence,school=s "
        f'availability="offline",previous="online",reason="timeout" {ns(T0)}',
        f'availability_change,gateway=g,kind=gateway,school=s availability="online",previous="unknown" {ns(at)}',
        "alarm,device=d1,gateway=g,kind=panic,school=s,severity=critical "
        f'id="a1",state="raised",condition="active",escalation_level=0i {ns(at)}',
    ]
