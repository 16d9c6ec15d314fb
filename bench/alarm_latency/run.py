"""Press-to-police latency: simulated panic buttons → agent (200 ms poll) → mosquitto → hub → DC-09.

Runs a real mosquitto, the pymodbus simulator with N one-click alarm boxes, the agent polling every
200 ms, the hub (SQLite, outbox, DC-09 forwarder) and pysiaalarm 3.2.2 as the receiving centre.
Each press goes through the simulator's HTTP control interface; its latency is from just before
that request to pysiaalarm's callback for the panic (matched by zone = device number). Buttons are
used in rotation and released and reset after each alarm, so every press is a new alarm.

    .venv/bin/python bench/alarm_latency/run.py --presses 500 --out bench/alarm_latency/results.json

The hub (`campusguard hub`) and the agent (`campusguard agent`) run as processes of their own, as
deployed; the simulator and pysiaalarm share this process's event loop, with mosquitto beside.
``--load-rate 1000`` adds other gateways' snapshots (50 devices each: 50,000 device updates/s
offered) from bench/hub_ingest/load.py, in a process of its own.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from simulator.run import Simulator
from tests.forwarding.receiver import account, sia_receiver
from tests.hub.support import act, agent_data, eventually, sim_config, start_hub, unique_prefix, wait_healthy
from tests.support.servers import Mosquitto, free_port


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


LOAD = Path(__file__).resolve().parents[1] / "hub_ingest" / "load.py"


async def _updates(http: httpx.AsyncClient) -> float:
    """The hub's device updates so far, from /metrics."""
    text = (await http.get("/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("campusguard_hub_device_updates_total")]
    return float(lines[0].split()[-1]) if lines else 0.0


def background(port: int, prefix: str, args: argparse.Namespace) -> "subprocess.Popen[str] | None":
    """Other gateways' snapshots: ``--load-rate`` per second of ``--load-devices`` devices each."""
    if not args.load_rate:
        return None
    load = [sys.executable, str(LOAD), "--port", str(port), "--prefix", prefix]
    size = ["--gateways", str(args.load_gateways), "--devices", str(args.load_devices)]
    subprocess.run([*load[:2], "births", *load[2:], *size], check=True, capture_output=True, timeout=300)
    rate = ["--seconds", "36000", "--rate", str(args.load_rate)]
    return subprocess.Popen([*load[:2], "snapshots", *load[2:], *size, *rate], stdout=subprocess.PIPE, text=True)


async def bench(presses: int, buttons: int, poll_s: float, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run the presses; return latencies and a summary."""
    broker = Mosquitto(workdir / "mosquitto").start()
    prefix = unique_prefix()
    sim = Simulator(sim_config([(f"panic-{i}", "panic") for i in range(1, buttons + 1)]))
    await sim.start()
    latencies: list[float] = []
    procs: list[subprocess.Popen[Any]] = []
    try:
        async with sia_receiver([account("1234")]) as arc:
            port = free_port()
            forwarding = {
                "receivers": {"arc-1": {"type": "dc09", "host": "127.0.0.1", "port": arc.port, "account": "1234"}},
                "routes": [{"name": "police", "primary": "arc-1"}],
                "schools": {"school-a": {"account": "1234"}},
                "worker": {"poll_s": 1.0},
            }
            hub_yaml = {
                "mqtt": {"url": broker.url, "topic_prefix": prefix, "client_id": "latency-hub"},
                "database": {"url": f"sqlite:///{workdir / 'hub.db'}"},
                "api": {"port": port, "auth": "off"},
                "gateways": {"enrolment": "open"},
                "forwarding": forwarding,
            }
            (workdir / "hub.yaml").write_text(json.dumps(hub_yaml))
            procs.append(start_hub(workdir / "hub.yaml", workdir / "hub.log"))
            await wait_healthy(port, 60)
            data = agent_data(sim, broker.url, workdir / "spool.db", prefix)
            data["defaults"] = {**data["defaults"], "interval_s": poll_s, "timeout_s": 0.5}
            (workdir / "agent.yaml").write_text(json.dumps(data))
            with (workdir / "agent.log").open("ab") as log:
                agent = [sys.executable, "-m", "campusguard.cli", "agent", "--config", str(workdir / "agent.yaml")]
                procs.append(subprocess.Popen(agent, stdout=log, stderr=subprocess.STDOUT))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

                async def get(path: str, **params: Any) -> Any:
                    response = await http.get(path, params=params)
                    response.raise_for_status()
                    return response.json()

                async def online() -> bool:
                    page = await get("/api/v1/devices", availability="online")
                    return bool(page["total"] == buttons)

                await eventually(online, 30)
                loader = await asyncio.to_thread(background, broker.port, prefix, args)
                if loader is not None:
                    procs.append(loader)
                    await asyncio.sleep(args.warmup_s)  # the load runs before the first press
                updates_before, load_started = await _updates(http), time.monotonic()
                zones: dict[str, str] = {}
                for n in range(presses):
                    device = f"panic-{n % buttons + 1}"

                    async def reset_seen(device: str = device) -> bool:
                        page = await get("/api/v1/alarms", device_id=device, kind="panic")
                        return all(a["reset_at"] for a in page["items"])

                    await eventually(reset_seen, 30)  # so this press is a new alarm, not a repeat
                    seen = len(arc.data_events())
                    started = time.monotonic()
                    await act(sim, device, "press")
                    async with asyncio.timeout(30):
                        while len(arc.data_events()) == seen:
                            arc.arrived.clear()
                            await arc.arrived.wait()
                    latencies.append(time.monotonic() - started)
                    event = arc.data_events()[seen]
                    assert event.code == "PA", event
                    assert zones.setdefault(device, event.ri) == event.ri, (device, event)  # zone = this button
                    await act(sim, device, "release")
                    await asyncio.sleep(poll_s + 0.05)  # the agent sees the release before the reset
                    await act(sim, device, "reset")
                    if n % 50 == 49:
                        print(f"{n + 1} presses, p50 so far {statistics.median(latencies) * 1000:.0f} ms", flush=True)
                    await asyncio.sleep(0.05)
                ingested = (await _updates(http) - updates_before) / (time.monotonic() - load_started)
            received = len(arc.data_events())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:  # a hub far behind may take long to stop: it must not outlive the bench
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        await sim.stop()
        broker.stop()
    ms = [x * 1000 for x in latencies]
    return {
        "presses": presses,
        "buttons": buttons,
        "poll_s": poll_s,
        "load_rate": args.load_rate,
        "warmup_s": args.warmup_s if args.load_rate else 0,
        "received_by_receiver": received,
        "background_device_updates_per_s": round(ingested),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.mean(ms), 1),
        "latencies_ms": [round(x, 2) for x in ms],
    }


def main() -> None:
    """Run and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=500)
    parser.add_argument("--buttons", type=int, default=10)
    parser.add_argument("--poll-s", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--load-rate", type=float, default=0, help="other gateways' snapshots per second (0: none)")
    parser.add_argument("--load-gateways", type=int, default=1_000)
    parser.add_argument("--load-devices", type=int, default=50, help="devices per background snapshot")
    parser.add_argument(
        "--warmup-s",
        type=float,
        default=5,
        help="seconds of load before the first press (the hub takes in the load's inventory meanwhile)",
    )
    parser.add_argument("--work-dir", type=Path, help="keep the logs and databases here (default: a temporary dir)")
    args = parser.parse_args()
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(bench(args.presses, args.buttons, args.poll_s, args.work_dir, args))
    else:
        with tempfile.TemporaryDirectory(prefix="alarm-latency-") as tmp:
            result = asyncio.run(bench(args.presses, args.buttons, args.poll_s, Path(tmp), args))
    args.out.write_text(json.dumps(result, indent=1))
    summary = {k: v for k, v in result.items() if k != "latencies_ms"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
