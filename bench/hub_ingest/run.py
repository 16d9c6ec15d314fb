"""bench/hub_ingest: device updates per second sustained by one hub process, beside the broker's raw rate.

One invocation starts a mosquitto on a free loopback port, one ``campusguard hub`` process (SQLite,
as a district runs it) and a ``mosquitto_sub`` counting lines, all subscribed to the same status
topics. load.py publishes one birth per simulated gateway, one round of snapshots (every device goes
unknown -> online: the only round that writes), then snapshots as fast as it can (``--rate 0``) or
at ``--rate`` snapshots/s for ``--seconds``. Over the measured window (after ``--warmup`` seconds)
it reads the hub's ``campusguard_hub_device_updates_total`` from /metrics and the lines
mosquitto_sub printed, and reports both rates, their ratio, and the CPU each process used,
publisher included (this machine has 2 cores, and the publisher, broker, subscriber and hub share
them). ``--py-spy FILE`` samples the hub over the window (raw stacks; ``pip install py-spy``).

    .venv/bin/python bench/hub_ingest/run.py --gateways 1000 --devices 50 --seconds 30
    .venv/bin/python bench/hub_ingest/run.py --gateways 1000 --devices 50 --seconds 30 --rate 1000

Results go to ``--out`` (results.json) and a Markdown table on stdout.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PREFIX = "bench/v1"

sys.path.insert(0, str(ROOT))
from campusguard.net import free_port, wait_for_port  # noqa: E402


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def metrics(port: int) -> dict[str, float]:
    """The hub's /metrics as name{labels} -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def online(db: Path) -> int:
    """How many devices the hub's database shows online (the first round's commit is done).

    Read from the SQLite file, not the API: the bench measures ingest, whatever auth the API asks for.
    """
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        (total,) = conn.execute("SELECT count(*) FROM devices WHERE availability = 'online'").fetchone()
    return int(total)


class LineCounter(threading.Thread):
    """Counts the lines a subprocess prints (mosquitto_sub: one line per message)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.proc, self.lines = proc, 0

    def run(self) -> None:
        """Read until EOF."""
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(1 << 20):
            self.lines += chunk.count(b"\n")


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load_cmd(port: int, args: argparse.Namespace, mode: str, seconds: float = 0) -> list[str]:
    """The load.py command line."""
    cmd = [PY, str(HERE / "load.py"), mode, "--port", str(port), "--prefix", PREFIX]
    cmd += ["--gateways", str(args.gateways), "--devices", str(args.devices), "--seconds", str(seconds)]
    return [*cmd, "--rate", str(args.rate)]


def load(port: int, args: argparse.Namespace, mode: str, seconds: float = 0) -> dict[str, Any]:
    """Run load.py to completion; its JSON summary."""
    cmd = load_cmd(port, args, mode, seconds)
    result = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + 300)
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def wait_until(check: Any, timeout_s: float, what: str) -> None:
    """Poll ``check()`` every 0.2 s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the results."""
    work = Path(tempfile.mkdtemp(prefix="bench-hub-ingest-"))
    broker_port, api_port = free_port(), free_port()
    conf = work / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n{user}"
        # Like deploy/mosquitto.conf, but the hub's queue is capped at ~150 MB of 7 kB snapshots.
        "persistence false\nmax_queued_messages 20000\nmax_inflight_messages 100\n"
        "log_dest stdout\nlog_type error\nlog_type warning\n"
    )
    hub_yaml = work / "hub.yaml"
    hub_yaml.write_text(
        json.dumps(
            {
                "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}", "topic_prefix": PREFIX, "client_id": "bench-hub"},
                "database": {"url": f"sqlite:///{work / 'hub.db'}"},
                "ingest": {"queue_max": 2_000},
                "liveness": {"default_snapshot_interval_s": 1, "heartbeat_misses": 30},
                "api": {"port": api_port},
                "gateways": {"enrolment": "open"},
                **({"timeseries": args.timeseries} if getattr(args, "timeseries", None) else {}),
            }
        )
    )
    procs: list[subprocess.Popen[Any]] = []
    loadavg_before = Path("/proc/loadavg").read_text().split()[:3]
    try:
        with (work / "mosquitto.log").open("wb") as log:
            broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)], stdout=log)
        procs.append(broker)
        wait_for_port(broker_port)
        with (work / "hub.log").open("wb") as log:
            hub = subprocess.Popen(
                [PY, "-m", "campusguard.cli", "hub", "--config", str(hub_yaml)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        procs.append(hub)
        wait_for_port(api_port, 30)
        sub_cmd = [shutil.which("mosquitto_sub") or "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker_port)]
        sub = subprocess.Popen([*sub_cmd, "-q", "1", "-t", f"{PREFIX}/+/+/status"], stdout=subprocess.PIPE)
        procs.append(sub)
        counter = LineCounter(sub)
        counter.start()

        births_started = time.monotonic()
        load(broker_port, args, "births")
        key_births = 'campusguard_hub_messages_total{type="birth"}'
        wait_until(lambda: metrics(api_port).get(key_births, 0) >= args.gateways, 120, "births not ingested")
        wait_until(lambda: metrics(api_port)["campusguard_hub_ingest_queue_depth"] == 0, 120, "queue not drained")
        births_s = time.monotonic() - births_started

        first_round = time.monotonic()
        args_once = argparse.Namespace(**{**vars(args), "rate": 0})
        load(broker_port, args_once, "snapshots", 0)  # one round: the only one that changes state
        target = args.gateways * args.devices
        key_updates = "campusguard_hub_device_updates_total"
        wait_until(lambda: metrics(api_port)[key_updates] >= target, 300, "first round not ingested")
        wait_until(lambda: online(work / "hub.db") >= target, 600, "first round not committed")  # 50k transitions
        first_round_s = time.monotonic() - first_round
        time.sleep(1)

        results: dict[str, Any] = {}
        loader = subprocess.Popen(  # a process of its own: its CPU is measured like the others'
            load_cmd(broker_port, args, "snapshots", args.warmup + args.seconds + 2), stdout=subprocess.PIPE, text=True
        )
        procs.append(loader)
        time.sleep(args.warmup)
        m0, lines0, t0 = metrics(api_port), counter.lines, time.monotonic()
        measured = (("hub", hub), ("broker", broker), ("mosquitto_sub", sub), ("publisher", loader))
        measured += tuple(getattr(args, "extra_procs", {}).items())  # bench/timeseries: influxd
        cpu0 = {name: cpu_s(p.pid) for name, p in measured}
        stat0 = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        spy = None
        if args.py_spy:  # sample the hub over the window: what its one core is spent on
            spy_cmd = [str(Path(PY).parent / "py-spy"), "record", "--pid", str(hub.pid), "--rate", "100"]
            spy_cmd += ["--duration", str(int(args.seconds)), "--format", "raw", "--output", str(args.py_spy)]
            spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.seconds)
        m1, lines1, t1 = metrics(api_port), counter.lines, time.monotonic()
        cpu1 = {name: cpu_s(p.pid) for name, p in measured}
        stat1 = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        out, _ = loader.communicate(timeout=args.seconds + 300)
        results["load"] = json.loads(out.strip().splitlines()[-1])
        if spy is not None:
            spy.wait(60)
        window = t1 - t0
        hub_updates = (m1[key_updates] - m0[key_updates]) / window
        raw_msgs = (lines1 - lines0) / window
        busy = [int(b) - int(a) for a, b in zip(stat0, stat1, strict=True)]
        machine_busy = 1 - (busy[3] + busy[4]) / max(sum(busy), 1)
        results.update(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "gateways": args.gateways,
                "devices": args.devices,
                "seconds": round(window, 2),
                "rate": args.rate,
                "births_s": round(births_s, 1),
                "first_round_s": round(first_round_s, 1),
                "hub_device_updates_per_s": round(hub_updates),
                "hub_snapshots_per_s": round(hub_updates / args.devices, 1),
                "raw_snapshots_per_s": round(raw_msgs, 1),
                "raw_device_updates_per_s": round(raw_msgs * args.devices),
                "ratio": round(hub_updates / (raw_msgs * args.devices), 3) if raw_msgs else None,
                "cpu_cores": {k: round((cpu1[k] - cpu0[k]) / window, 2) for k in cpu0},
                "machine_busy": round(machine_busy, 2),
                "loadavg_before": loadavg_before,
                "hub_queue_depth_end": m1["campusguard_hub_ingest_queue_depth"],
                "hub_batches": m1["campusguard_hub_batch_seconds_count"],
                "hub_batch_seconds_max": m1["campusguard_hub_batch_seconds_max"],
                "python": sys.version.split()[0],
            }
        )
        sink = "campusguard_hub_timeseries_written_lines"
        if sink in m1:  # bench/timeseries: what the sink wrote to InfluxDB over the same window
            results["timeseries"] = {
                "written_lines_per_s": round((m1[sink] - m0[sink]) / window),
                "dropped_lines": m1["campusguard_hub_timeseries_dropped_lines"],
                "buffered_lines_end": m1["campusguard_hub_timeseries_buffered_lines"],
                "write_failures": m1["campusguard_hub_timeseries_write_failures"],
            }
        return results
    finally:
        for proc in reversed(procs):
            stop(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateways", type=int, default=1_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30, help="measured window")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before the window")
    parser.add_argument("--rate", type=float, default=0, help="snapshots per second offered; 0 = as fast as possible")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, hub.db)")
    parser.add_argument("--py-spy", type=Path, help="record the hub with py-spy (raw stacks) over the window")
    args = parser.parse_args()
    results = run(args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print()
    print("| gateways × devices | hub device updates/s | broker → mosquitto_sub device updates/s | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| {args.gateways} × {args.devices} | {results['hub_device_updates_per_s']:,} | "
        f"{results['raw_device_updates_per_s']:,} | {results['ratio']} |"
    )


if __name__ == "__main__":
    main()
