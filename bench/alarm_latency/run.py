"""Press-to-police latency: simulated panic buttons → agent (200 ms poll) → mosquitto → hub → DC-09.

Runs a real mosquitto, the pymodbus simulator with N one-click alarm boxes, the agent polling every
200 ms, the hub (SQLite, outbox, DC-09 forwarder) and pysiaalarm 3.2.2 as the receiving centre.
Each press goes through the simulator's HTTP control interface; its latency is from just before
that request to pysiaalarm's callback for the panic (matched by zone = device number). Buttons are
used in rotation and released and reset after each alarm, so every press is a new alarm.

    .venv/bin/python bench/alarm_latency/run.py --presses 500 --out bench/alarm_latency/results.json

All components share this process's event loop except mosquitto; on a 2-core machine that is
a pessimistic setting for the hub.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.config import AgentConfig
from agent.runtime import Agent
from simulator.run import Simulator
from tests.forwarding.receiver import account, sia_receiver
from tests.hub.support import act, agent_data, eventually, hub_settings, running_hub, sim_config, unique_prefix
from tests.support.servers import Mosquitto


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


async def bench(presses: int, buttons: int, poll_s: float, workdir: Path) -> dict[str, Any]:
    """Run the presses; return latencies and a summary."""
    broker = Mosquitto(workdir / "mosquitto").start()
    prefix = unique_prefix()
    sim = Simulator(sim_config([(f"panic-{i}", "panic") for i in range(1, buttons + 1)]))
    await sim.start()
    latencies: list[float] = []
    try:
        async with sia_receiver([account("1234")]) as arc:
            forwarding = {
                "receivers": {"arc-1": {"type": "dc09", "host": "127.0.0.1", "port": arc.port, "account": "1234"}},
                "routes": [{"name": "police", "primary": "arc-1"}],
                "schools": {"school-a": {"account": "1234"}},
                "worker": {"poll_s": 1.0},
            }
            settings = hub_settings(
                broker.url, f"sqlite:///{workdir / 'hub.db'}", prefix, forwarding=forwarding, api={"auth": "off"}
            )
            data = agent_data(sim, broker.url, workdir / "spool.db", prefix)
            data["defaults"] = {**data["defaults"], "interval_s": poll_s, "timeout_s": 0.5}
            agent = Agent(AgentConfig.model_validate(data))
            stop = asyncio.Event()
            async with running_hub(settings) as hub, asyncio.TaskGroup() as tg:
                tg.create_task(agent.run(stop))

                async def online() -> bool:
                    page = await hub.get("/api/v1/devices", availability="online")
                    return bool(page["total"] == buttons)

                await eventually(online, 30)
                zones: dict[str, str] = {}
                for n in range(presses):
                    device = f"panic-{n % buttons + 1}"

                    async def reset_seen(device: str = device) -> bool:
                        page = await hub.get("/api/v1/alarms", device_id=device, kind="panic")
                        return all(a["reset_at"] for a in page["items"])

                    await eventually(reset_seen, 10)  # so this press is a new alarm, not a repeat
                    seen = len(arc.data_events())
                    started = time.monotonic()
                    await act(sim, device, "press")
                    async with asyncio.timeout(10):
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
                stop.set()
            received = len(arc.data_events())
    finally:
        await sim.stop()
        broker.stop()
    ms = [x * 1000 for x in latencies]
    return {
        "presses": presses,
        "buttons": buttons,
        "poll_s": poll_s,
        "received_by_receiver": received,
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alarm-latency-") as tmp:
        result = asyncio.run(bench(args.presses, args.buttons, args.poll_s, Path(tmp)))
    args.out.write_text(json.dumps(result, indent=1))
    summary = {k: v for k, v in result.items() if k != "latencies_ms"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
