"""InfluxDB away under load: the hub keeps ingesting and alarming, the sink's buffer fills, drops the
oldest past its bound and counts them, and drains when InfluxDB is back.

20 gateways of 50 devices send a heartbeat a second (1,000 device updates/s, 1,020 lines/s) through
a real mosquitto to a running hub on SQLite and PostgreSQL; Debian's InfluxDB 1.6 is stopped for
``CAMPUSGUARD_INFLUX_OUTAGE_S`` seconds (10 in ``make test``, 120 in ``make faults``) with the
buffer bounded below what the outage brings, so that some lines must be dropped. A panic press
during the outage must reach the hub's alarm list as quickly as ever.
"""

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from contract import Birth, DeviceInfo, DeviceStatus, Event, MessageType, Snapshot, TopicTree, encode
from tests.hub.support import eventually, hub_settings, running_hub, unique_prefix
from tests.support.influx import InfluxDB
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration

OUTAGE_S = float(os.environ.get("CAMPUSGUARD_INFLUX_OUTAGE_S", "10"))
GATEWAYS, DEVICES = 20, 50
LINES_PER_S = GATEWAYS * (DEVICES + 1)
BUFFER = max(1_000, int(LINES_PER_S * OUTAGE_S * 0.6))  # 60 % of what the outage brings: drops are certain


class Load:
    """Heartbeats from every gateway once a second until stopped; counts what it sent."""

    def __init__(self, client: aiomqtt.Client, tree: TopicTree) -> None:
        self.client, self.tree = client, tree
        self.rounds = 0
        self.last_ts: datetime | None = None

    async def births(self) -> None:
        infos = [DeviceInfo(id=f"dev-{n:02d}", kind="fence", profile="p", interval_s=1) for n in range(DEVICES)]
        infos.append(DeviceInfo(id="panic-1", kind="one_click_alarm", profile="p", interval_s=1))
        for g in range(GATEWAYS):
            birth = Birth(ts=datetime.now(UTC), seq=0, devices=infos if g == 0 else infos[:-1])
            await self.client.publish(
                self.tree.topic(f"school-{g:02d}", "gw-01", MessageType.BIRTH), encode(birth), qos=1
            )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            now = datetime.now(UTC)
            for g in range(GATEWAYS):
                volts = [{"zone1_v": 9.0 + n / 10} for n in range(DEVICES)]
                states = [
                    DeviceStatus(device_id=f"dev-{n:02d}", availability="online", since=now, metrics=volts[n])
                    for n in range(DEVICES)
                ]
                snap = Snapshot(ts=now, seq=0, interval_s=1, devices=states)
                await self.client.publish(
                    self.tree.topic(f"school-{g:02d}", "gw-01", MessageType.STATUS), encode(snap), qos=1
                )
            self.rounds += 1
            self.last_ts = now
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def influx_total(influxdb: InfluxDB, database: str) -> int:
    """Every point InfluxDB holds in the database, over all measurements."""
    total = 0
    shown = await asyncio.to_thread(influxdb.query, "SHOW MEASUREMENTS", database)
    for m in [row[0] for row in shown[0]["values"]] if shown else []:  # the hub's own and daily lines too
        rows = await asyncio.to_thread(influxdb.rows, f'SELECT count(*) FROM "{m}"', database)  # noqa: S608
        if rows:
            total += max(int(v) for k, v in rows[0].items() if k.startswith("count_"))
    return total


async def test_influxdb_away_under_load_costs_no_alarm_and_every_line_is_written_or_counted(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    influxdb = InfluxDB(tmp_path / "influxdb").start()
    database = f"t_{uuid.uuid4().hex[:8]}"
    influxdb.query(f'CREATE DATABASE "{database}"')
    timeseries = {"backend": "influxdb", "flush_s": 0.2, "retry_max_s": 2, "buffer_max": BUFFER,
                  "influxdb": {"url": influxdb.url, "database": database}}  # fmt: skip
    settings = hub_settings(mosquitto.url, db_url, unique_prefix(), timeseries=timeseries)
    try:
        async with running_hub(settings) as hub, aiomqtt.Client("127.0.0.1", mosquitto.port) as gateway:
            sink = hub.services.timeseries
            assert sink is not None
            load, stop = Load(gateway, TopicTree(settings.mqtt.topic_prefix)), asyncio.Event()
            await load.births()
            task = asyncio.create_task(load.run(stop))
            await eventually(holds(lambda: sink.written > 5 * LINES_PER_S), 60)  # flowing

            await asyncio.to_thread(influxdb.stop)
            updates_before = hub.services.metrics.device_updates
            await asyncio.sleep(OUTAGE_S / 2)
            pressed = time.monotonic()
            press = Event(event_id=uuid.uuid4().hex, seq=1, device_id="panic-1", ts=datetime.now(UTC),
                          type="alarm.raised", alarm_type="panic", severity="critical", latched=True)  # fmt: skip
            await gateway.publish(load.tree.topic("school-00", "gw-01", MessageType.EVENT), encode(press), qos=1)

            async def panic_listed() -> Any:
                items = (await hub.http.get("/api/v1/alarms", params={"device_id": "panic-1"})).json()["items"]
                return items or None

            await eventually(panic_listed, 10)
            alarm_s = time.monotonic() - pressed
            await asyncio.sleep(max(0.0, OUTAGE_S / 2 - alarm_s))
            assert hub.services.metrics.device_updates - updates_before >= 0.7 * DEVICES * GATEWAYS * OUTAGE_S
            assert sink.failures >= 1 and sink.dropped > 0  # oldest dropped
            # Full: sampled between attempts, since a batch being tried is out of the buffer until it fails.
            await eventually(holds(lambda: sink.held > 0.9 * BUFFER), 10)

            await asyncio.to_thread(influxdb.start)
            await eventually(holds(lambda: sink.held < LINES_PER_S * 3), 120)  # drained but for the last seconds
            stop.set()
            await task
            await eventually(holds(lambda: sink.held == 0), 60)
            assert sink.received == sink.written + sink.dropped + sink.rejected  # nothing silently lost
            assert sink.rejected == 0
            assert await influx_total(influxdb, database) == sink.written  # what it says it wrote is there
            last = await asyncio.to_thread(
                influxdb.rows, "SELECT last(zone1_v) FROM device WHERE school = 'school-19'", database
            )
            assert last and last[0]["time"].startswith(load.last_ts.strftime("%Y-%m-%dT%H:%M:%S"))  # newest kept
            print(
                f"outage {OUTAGE_S:.0f} s: panic listed in {alarm_s * 1000:.0f} ms; {sink.received} lines, "
                f"{sink.written} written, {sink.dropped} dropped (buffer {BUFFER}), {sink.failures} failed writes"
            )
    finally:
        influxdb.stop()


def holds(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """``predicate`` as the async check ``eventually`` polls."""

    async def check() -> bool:
        return predicate()

    return check
