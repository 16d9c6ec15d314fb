"""Every query of every dashboard in dashboards/, its variables filled, against a real InfluxDB 1.6
holding what the hub wrote: each returns rows.

Grafana cannot be installed here (not in Debian, no Docker): the JSON is checked for what Grafana
needs to load it (uid, title, panels with a datasource and raw InfluxQL targets), not rendered.
"""

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract import Birth, DeviceInfo, DeviceStatus, Event, MessageType, Snapshot, TopicTree, encode
from contract.messages import SpoolStats
from hub.app import build_services
from hub.timeseries.daily import DailyRates, hub_line
from tests.hub.support import hub_settings, unique_prefix
from tests.hub.test_ingest_batches import Clock
from tests.support.influx import InfluxDB

DASHBOARDS = sorted((Path(__file__).resolve().parents[2] / "dashboards").glob("*.json"))
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(hours=2)


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, InfluxQL) of every panel target and every query variable."""
    found = [(f"variable {v['name']}", v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]
    for panel in dashboard["panels"]:
        found += [(f"panel {panel['title']!r} {t['refId']}", t["query"]) for t in panel["targets"]]
    return found


def filled(query: str) -> str:
    """The query as Grafana sends it: time filter, interval and 'All' for every variable."""
    text = query.replace("$timeFilter", f"time >= '{START.isoformat()}' AND time <= '{NOW.isoformat()}'")
    text = text.replace("$__interval", "10m")
    text = re.sub(r"/\^\$(school|kind|hub)\$/", "/^.*$/", text)
    assert not re.search(r"\$[A-Za-z_{]", text), f"a variable left unfilled: {text}"
    return text


@contextlib.asynccontextmanager
async def fed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InfluxDB]:
    """An InfluxDB with two hours of a school: cameras (one covered a while, one down), a fence, a
    panic box that alarms, a gateway with a spool, all written by the hub's sink."""
    influxdb = InfluxDB(tmp_path_factory.mktemp("influx-dash")).start()
    influxdb.query('CREATE DATABASE "campusguard"')
    prefix = unique_prefix()
    timeseries = {"backend": "influxdb", "flush_s": 0.1, "influxdb": {"url": influxdb.url}}
    db = tmp_path_factory.mktemp("dash-db") / "hub.db"
    settings = hub_settings("mqtt://127.0.0.1:1", f"sqlite:///{db}", prefix, timeseries=timeseries)
    clock = Clock()
    svc = build_services(settings, now=clock)
    assert svc.timeseries is not None
    stop = asyncio.Event()
    task = asyncio.create_task(svc.timeseries.run(stop))
    tree = TopicTree(prefix)

    async def send(kind: MessageType, message: Any) -> None:
        item = svc.ingest.parse(tree.topic("school-a", "gw-01", kind), encode(message))
        assert item is not None
        await svc.ingest._process([item])

    infos = [
        DeviceInfo(id="cam-gate", kind="camera", profile="p", location="大门", interval_s=30),
        DeviceInfo(id="cam-yard", kind="camera", profile="p", location="操场", interval_s=30),
        DeviceInfo(id="fence-1", kind="fence", profile="p", location="北墙", interval_s=30),
        DeviceInfo(id="panic-1", kind="one_click_alarm", profile="p", location="门卫室", interval_s=30),
    ]
    clock.now = START
    await send(MessageType.BIRTH, Birth(ts=START, seq=0, devices=infos))
    for minute in range(0, 120, 5):
        clock.now = at = START + timedelta(minutes=minute)
        covered = 30 <= minute < 60
        states = {
            "cam-gate": ("degraded", "covered") if covered else ("online", None),
            "cam-yard": ("offline", "timeout") if minute >= 90 else ("online", None),
            "fence-1": ("online", None),
            "panic-1": ("online", None),
        }
        metrics = {
            "fence-1": {"poll_ms": 3.5, "zone1_voltage_kv": 9.2, "zone2_voltage_kv": 8.7},
            "panic-1": {"poll_ms": 4.1, "battery_v": 13.1, "self_test_result": 1},
        }
        devices = [
            DeviceStatus(device_id=d, availability=a, reason=r, since=at, metrics=metrics.get(d, {"poll_ms": 3.5}))  # type: ignore[arg-type]
            for d, (a, r) in states.items()
        ]
        spool = SpoolStats(pending_events=minute % 7, pending_alarms=minute % 2, dropped_telemetry=0)
        await send(MessageType.STATUS, Snapshot(ts=at, seq=minute, interval_s=30, devices=devices, spool=spool))
    raise_ = Event(event_id="ev-panic-0001", seq=200, device_id="panic-1", ts=NOW - timedelta(minutes=30),
                   type="alarm.raised", alarm_type="panic", severity="critical", latched=True, value=True)  # fmt: skip
    await send(MessageType.EVENT, raise_)
    cut = Event(event_id="ev-cut-00001", seq=201, device_id="fence-1", ts=NOW - timedelta(minutes=20),
                type="alarm.raised", alarm_type="wire_cut", zone=2, severity="critical")  # fmt: skip
    await send(MessageType.EVENT, cut)
    # what the hub computes itself: the day's rates (as if the day had ended) and its own counters
    daily = DailyRates(settings, svc.sessions, svc.timeseries, lambda: True, lambda: NOW + timedelta(days=1))
    svc.timeseries.add(daily.due())
    for n in range(3):
        svc.metrics.device_updates += 100
        text = hub_line(svc.metrics, "hub-test", NOW - timedelta(minutes=40 - 15 * n))  # a 10-minute bucket each
        assert text is not None
        svc.timeseries.add([text])
    for _ in range(600):
        if svc.timeseries.held == 0 and svc.timeseries.written:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    svc.sessions.kw["bind"].dispose()
    try:
        yield influxdb
    finally:
        influxdb.stop()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_dashboard_has_what_grafana_needs(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"].startswith("cg-") and dashboard["title"] and dashboard["panels"]
    assert dashboard["templating"]["list"][0]["name"] == "datasource"
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "influxdb", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["rawQuery"] for t in panel["targets"]), panel["title"]


async def test_every_query_of_every_dashboard_returns_rows(tmp_path_factory: pytest.TempPathFactory) -> None:
    assert len(DASHBOARDS) >= 5
    async with fed(tmp_path_factory) as influxdb:
        empty = [
            f"{path.name}: {where}"
            for path in DASHBOARDS
            for where, query in queries(json.loads(path.read_text(encoding="utf-8")))
            if not influxdb.query(filled(query), "campusguard")
        ]
    assert empty == [], f"no rows for {empty}"
