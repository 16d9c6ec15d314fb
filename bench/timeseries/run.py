"""bench/timeseries: lines/s from the hub into InfluxDB 1.6 on loopback, beside InfluxDB's own ceiling.

One run, one InfluxDB (Debian's 1.6, started on a free port by PID):

1. **ceiling**: a plain writer posts pre-encoded ``device`` lines (the hub's shape: five tags, four
   fields) in batches of ``--batch`` over ``--connections`` keep-alive connections for ``--seconds``:
   what InfluxDB takes on this machine when nothing else is asked of it.
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


def device_lines(count: int) -> list[str]:
    """Lines shaped like the sink's ``device`` lines, with distinct series and times."""
    base = time.time_ns()
    return [
        f"device,school=school-{n % 1000:05d},gateway=gw-01,device=dev-{n % 50:03d},kind=fence,location=north "
        f'rtt_ms=4.2,polls={n}i,availability="online",online=1i,intact=1i {base + n}'
        for n in range(count)
    ]


async def ceiling(url: str, database: str, seconds: float, batch: int, connections: int) -> dict[str, Any]:
    """Lines/s a plain batched writer gets InfluxDB to take."""
    bodies = ["\n".join(device_lines(batch)).encode() for _ in range(4)]
    written = 0
    deadline = time.monotonic() + seconds

    async def writer(client: httpx.AsyncClient, n: int) -> None:
        nonlocal written
        while time.monotonic() < deadline:
            response = await client.post(f"{url}/write", params={"db": database}, content=bodies[n % len(bodies)])
            response.raise_for_status()
            written += batch
            n += 1

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(writer(client, n) for n in range(connections)))
    return {"lines_per_s": round(written / (time.monotonic() - started)), "batch": batch, "connections": connections}


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
            common = {**vars(args), "out": None, "keep": False, "py_spy": None}
            results["sink_off"] = hub_ingest.run(argparse.Namespace(**common, timeseries=None))
            sink = {"backend": "influxdb", "batch_max": args.batch, "influxdb": {"url": influx.url}}
            results["sink_on"] = hub_ingest.run(argparse.Namespace(**common, timeseries=sink))
        finally:
            influx.stop()
    on, off, top = results["sink_on"], results["sink_off"], results["ceiling"]["lines_per_s"]
    written = on["timeseries"]["written_lines_per_s"]
    results["sink_share_of_ceiling"] = round(written / top, 3)
    results["ingest_with_sink_vs_without"] = round(on["hub_device_updates_per_s"] / off["hub_device_updates_per_s"], 3)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print()
    print("| InfluxDB ceiling lines/s | sink lines/s | sink ÷ ceiling | ingest off | ingest on | on ÷ off |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {top:,} | {written:,} | {results['sink_share_of_ceiling']} | {off['hub_device_updates_per_s']:,} | "
        f"{on['hub_device_updates_per_s']:,} | {results['ingest_with_sink_vs_without']} |"
    )


if __name__ == "__main__":
    main()
