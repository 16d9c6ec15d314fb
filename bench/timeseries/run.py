"""bench/timeseries: lines/s from the hub into InfluxDB 1.6 on loopback, beside InfluxDB's own ceiling.

One run, one InfluxDB (Debian's 1.6, started on a free port by PID):

1. **ceiling**: a plain writer posts ``device`` lines of the hub's shape (five tags, five fields,
   the same 50,000 series, every line a new point) in batches of ``--batch`` over ``--connections``
   keep-alive connections for ``--seconds``: what InfluxDB takes on this machine when nothing else is
   asked of it.
2. **hub, sink off**: bench/hub_ingest as it is (mosquitto, one hub on SQLite, load.py).
3. **hub, sink on**: the same, with ``timeseries.backend: influxdb``: the hub's ingest rate and the
   lines its sink wrote over the same window.

Targets (issue 13): the sink at ≥ 80 % of the ceiling, and ingest with the sink within 15 % of
ingest without it. Every process shares this machine's two cores, InfluxDB included.

    .venv/bin/python bench/timeseries/run.py --gateways 1000 --devices 50 --seconds 30 [--rate 400]
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "hub_ingest"))
import run as hub_ingest  # noqa: E402 - bench/hub_ingest/run.py

from tests.support.influx import InfluxDB  # noqa: E402

SERIES = [
    f"device,device=dev-{n % 50:03d},gateway=gw-01,kind=fence,location=north,school=school-{n // 50:05d}"
    for n in range(50_000)
]  # the hub's 1,000 gateways x 50 devices
FIELDS = 'rtt_ms=4.2,polls=1200i,availability="online",online=1i,intact=1i'


def body(start: int, count: int, stamp: int) -> bytes:
    """``count`` lines of distinct series from ``start``, at ``stamp``: new points, as a heartbeat brings."""
    return "\n".join(f"{SERIES[(start + n) % len(SERIES)]} {FIELDS} {stamp}" for n in range(count)).encode()


async def ceiling(url: str, database: str, seconds: float, batch: int, connections: int) -> dict[str, Any]:
    """Lines/s a plain batched writer gets InfluxDB to take: every line a new point."""
    written, cursor = 0, 0
    deadline = time.monotonic() + seconds

    async def writer(client: httpx.AsyncClient) -> None:
        nonlocal written, cursor
        while time.monotonic() < deadline:
            start, cursor = cursor, cursor + batch
            stamp = time.time_ns() + start  # a new time for each round over the series
            response = await client.post(f"{url}/write", params={"db": database}, content=body(start, batch, stamp))
            response.raise_for_status()
            written += batch

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(writer(client) for _ in range(connections)))
    return {"lines_per_s": round(written / (time.monotonic() - started)), "batch": batch, "connections": connections}


def heartbeats(gateways: int, devices: int) -> list[Any]:
    """One commit per gateway, each a heartbeat of ``devices`` devices with the load generator's metrics."""
    from contract import DeviceStatus, Snapshot
    from hub.domain.state import ReceivedSnapshot
    from hub.sinks import Committed

    now = datetime.now(UTC)
    out = []
    for g in range(gateways):
        states = [
            DeviceStatus(
                device_id=f"dev-{n:03d}", availability="online", since=now, metrics={"rtt_ms": 4.2, "polls": n}
            )
            for n in range(devices)
        ]
        snap = Snapshot(ts=now, seq=1, interval_s=1, devices=states)
        out.append(Committed(now, snapshots=(ReceivedSnapshot(f"school-{g:05d}", "gw-01", now, snap),)))
    return out


async def sink_alone(url: str, seconds: float, batch: int, gateways: int, devices: int) -> dict[str, Any]:
    """Lines/s the hub's sink writes when it is fed heartbeats as fast as it takes them (no MQTT, no
    ingest): the sink's own encoding and writing against the plain writer's."""
    from hub.timeseries.settings import TimeSeriesSettings
    from hub.timeseries.sink import TimeSeriesSink

    settings = TimeSeriesSettings.model_validate({"backend": "influxdb", "batch_max": batch, "influxdb": {"url": url}})
    sink = TimeSeriesSink(settings, lambda _school, _device: ("fence", "north"))
    commits = heartbeats(gateways, devices)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    await asyncio.sleep(0.5)
    started, written0, n = time.monotonic(), sink.written, 0
    while time.monotonic() - started < seconds:
        while sink.held < 4 * batch:  # keep the writer busy without piling up
            sink.committed(commits[n % len(commits)])
            n += 1
        await asyncio.sleep(0.001)
    rate = (sink.written - written0) / (time.monotonic() - started)
    stop.set()
    await task
    return {"lines_per_s": round(rate), "dropped": sink.dropped, "failures": sink.failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateways", type=int, default=1_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--rate", type=float, default=0, help="snapshots/s offered to the hub; 0 = flat out")
    parser.add_argument("--batch", type=int, default=5_000, help="lines per write (the sink's batch_max)")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-timeseries-") as tmp:
        influx = InfluxDB(Path(tmp) / "influxdb").start()
        try:
            influx.query('CREATE DATABASE "ceiling"')
            influx.query('CREATE DATABASE "campusguard"')
            results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
            results["ceiling"] = asyncio.run(ceiling(influx.url, "ceiling", args.seconds, args.batch, args.connections))
            results["sink_alone"] = asyncio.run(
                sink_alone(influx.url, args.seconds, args.batch, args.gateways, args.devices)
            )
            influxd = {"influxd": influx.proc}
            common = {**vars(args), "out": None, "keep": False, "py_spy": None, "extra_procs": influxd}
            results["sink_off"] = hub_ingest.run(argparse.Namespace(**common, timeseries=None))
            sink = {"backend": "influxdb", "batch_max": args.batch, "influxdb": {"url": influx.url}}
            results["sink_on"] = hub_ingest.run(argparse.Namespace(**common, timeseries=sink))
        finally:
            influx.stop()
    on, off, top = results["sink_on"], results["sink_off"], results["ceiling"]["lines_per_s"]
    written, alone = on["timeseries"]["written_lines_per_s"], results["sink_alone"]["lines_per_s"]
    results["sink_alone_share_of_ceiling"] = round(alone / top, 3)
    results["ingest_with_sink_vs_without"] = round(on["hub_device_updates_per_s"] / off["hub_device_updates_per_s"], 3)
    for run in (on, off):  # the hub's own CPU per device update: what the sink adds to the hub's work
        run["hub_us_per_update"] = round(run["cpu_cores"]["hub"] / max(run["hub_device_updates_per_s"], 1) * 1e6, 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print()
    print("| InfluxDB ceiling lines/s | sink alone lines/s | alone ÷ ceiling | hub → sink lines/s |")
    print("|---:|---:|---:|---:|")
    print(f"| {top:,} | {alone:,} | {results['sink_alone_share_of_ceiling']} | {written:,} |")
    print()
    print("| hub ingest | updates/s | hub µs/update | CPU (cores): hub, influxd, broker, publisher |")
    print("|---|---:|---:|---|")
    for name, run in (("sink off", off), ("sink on", on)):
        cpu = run["cpu_cores"]
        print(
            f"| {name} | {run['hub_device_updates_per_s']:,} | {run['hub_us_per_update']} | "
            f"{cpu['hub']}, {cpu.get('influxd', 0)}, {cpu['broker']}, {cpu['publisher']} |"
        )


if __name__ == "__main__":
    main()
