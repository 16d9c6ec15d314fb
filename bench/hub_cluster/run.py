"""bench/hub_cluster: device updates/s with 1, 2 and 3 hubs on one PostgreSQL behind a NATS cluster.

Each tier is measured as a city would run it, with every part a real process on this machine: a
three-node nats-server cluster (Debian's; MQTT on each node, JetStream replicated), one PostgreSQL
15, and 1, 2 or 3 ``campusguard hub`` processes with ``cluster.partitions`` (each hub subscribes to
every gateway and applies those whose partitions it holds). bench/hub_ingest/load.py publishes one
birth per gateway, one round of snapshots (every device unknown -> online: the round that writes),
then snapshots at ``--rate`` per second (0: as fast as it can) for ``--seconds``.

Over the measured window (after ``--warmup``) it reads the hubs' ``device_updates_total`` and the
CPU seconds of every hub, every broker node and every PostgreSQL process, and reports per tier the
CPU per 10,000 device updates/s. This machine has 2 cores shared by all of them and the publisher:
the absolute rate is this machine's, the CPU per update is what carries over to sizing.

    .venv/bin/python bench/hub_cluster/run.py --hubs 1 2 3 --gateways 1000 --devices 50 --rate 300 --seconds 20
    .venv/bin/python bench/hub_cluster/run.py --hubs 1 2 3 --rate 0 --seconds 20

Results go to ``--out`` (results.json) and a Markdown table on stdout.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(ROOT))
from tests.hub.conftest import Postgres  # noqa: E402
from tests.support.nats import NatsCluster  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

_spec = importlib.util.spec_from_file_location("hub_ingest_run", ROOT / "bench" / "hub_ingest" / "run.py")
assert _spec is not None
assert _spec.loader is not None
hub_ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hub_ingest)
cpu_s, metrics, stop, wait_until = hub_ingest.cpu_s, hub_ingest.metrics, hub_ingest.stop, hub_ingest.wait_until


def children(pid: int) -> list[int]:
    """A process and every process whose parent it is (PostgreSQL's backends)."""
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def tier_cpu(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # ended meanwhile
            found[pid] = cpu_s(pid)
    return found


def online(db: str) -> int:
    """Devices the database shows online."""
    with psycopg.connect(db.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute("SELECT count(*) FROM devices WHERE availability = 'online'").fetchone()
    return int(row[0]) if row else 0


def postmaster(pg: Postgres) -> int:
    return int((pg.data / "postmaster.pid").read_text().split()[0])


def hub_config(index: int, nats: NatsCluster, db: str, prefix: str, port: int) -> dict[str, Any]:
    urls = nats.urls[index % 3 :] + nats.urls[: index % 3]
    return {
        "mqtt": {
            "url": urls[0], "fallback_urls": urls[1:], "topic_prefix": prefix,
            "client_id": f"{prefix.removesuffix('/v1')}-hub-{index}", "protocol": "3.1.1",
        },
        "database": {"url": db},
        "api": {"port": port, "auth": "off"},
        "gateways": {"enrolment": "open"},
        "cluster": {"partitions": 64, "check_s": 1.0},
        "liveness": {"default_snapshot_interval_s": 30},  # load.py's snapshots say 1 s; none goes silent here
    }  # fmt: skip


def load_cmd(port: int, args: argparse.Namespace, prefix: str, mode: str, seconds: float = 0) -> list[str]:
    cmd = [PY, str(ROOT / "bench" / "hub_ingest" / "load.py"), mode, "--port", str(port), "--prefix", prefix]
    cmd += ["--gateways", str(args.gateways), "--devices", str(args.devices), "--seconds", str(seconds)]
    return [*cmd, "--rate", str(args.rate if mode == "snapshots" else 0), "--interval-s", "30"]


def one_tier(hubs: int, args: argparse.Namespace, pg: Postgres, work: Path) -> dict[str, Any]:
    """Start a fresh broker cluster and ``hubs`` hubs on a fresh database, load them, measure the
    window; stop them (no session or backlog of one tier is left to the next)."""
    prefix = f"bench{hubs}x{int(time.time())}/v1"
    db = pg.create_database()
    nats = NatsCluster(work / f"nats{hubs}").start()
    procs, ports = [], []
    try:
        for i in range(hubs):
            port, config = free_port(), work / f"hub{hubs}-{i}.yaml"
            config.write_text(json.dumps(hub_config(i, nats, db, prefix, port)))
            with (work / f"hub{hubs}-{i}.log").open("ab") as log:
                procs.append(
                    subprocess.Popen(
                        [PY, "-m", "campusguard.cli", "hub", "--config", str(config)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            ports.append(port)
            wait_until(lambda p=port: _healthy(p), 60, f"hub {i} healthy")
        wait_until(
            lambda: sum(metrics(p).get("campusguard_hub_partitions_held", 0) for p in ports) == 64,
            60,
            "partitions held",
        )
        broker = nats.mqtt_ports[0]
        began = time.monotonic()
        births_missed = first_round(args, prefix, broker, ports, db)
        first_round_s = time.monotonic() - began
        publisher = subprocess.Popen(
            load_cmd(broker, args, prefix, "snapshots", args.warmup + args.seconds + 5), stdout=subprocess.PIPE
        )
        time.sleep(args.warmup)
        groups = {
            "hub": [p.pid for p in procs],
            "broker": [p.pid for p in nats.procs if p is not None],
            "postgresql": children(postmaster(pg)),
        }
        cpu0 = {k: tier_cpu(v) for k, v in groups.items()}
        updates0, t0 = sum(metrics(p).get("campusguard_hub_device_updates_total", 0) for p in ports), time.monotonic()
        time.sleep(args.seconds)
        updates1, t1 = sum(metrics(p).get("campusguard_hub_device_updates_total", 0) for p in ports), time.monotonic()
        cpu1 = {k: tier_cpu(v) for k, v in groups.items()}
        publisher.wait(timeout=args.seconds + 300)
        rate = (updates1 - updates0) / (t1 - t0)
        result: dict[str, Any] = {"hubs": hubs, "device_updates_per_s": round(rate), "births_missed": births_missed}
        result["first_round_s"] = round(first_round_s, 1)  # births and every device's first state, committed
        for tier, before in cpu0.items():
            used = sum(cpu1[tier].get(pid, t) - t for pid, t in before.items()) / (t1 - t0)
            result[f"{tier}_cores"] = round(used, 3)
            result[f"{tier}_cores_per_10k"] = round(used / (rate / 10_000), 3) if rate else None
        result["not_held_dropped"] = sum(metrics(p).get("campusguard_hub_messages_not_held", 0) for p in ports)
        return result
    finally:
        for proc in procs:
            stop(proc)
        nats.stop()


def first_round(args: argparse.Namespace, prefix: str, broker: int, ports: list[int], db: str) -> int:
    """Births, then one round of snapshots (every device unknown -> online), until committed.

    load.py does not answer the rebirth a hub asks for when it missed a gateway's birth (an agent
    does): the births and the round are published again instead, up to five times. Returns how many
    births the hubs missed the first time (the broker's doing: every hub subscribes to every birth).
    """
    want, missed = args.gateways * args.devices, 0
    for attempt in range(5):
        subprocess.run(load_cmd(broker, args, prefix, "births"), check=True, capture_output=True, timeout=300)
        subprocess.run(load_cmd(broker, args, prefix, "snapshots", 0), check=True, capture_output=True, timeout=300)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and online(db) < want:
            time.sleep(0.5)
        if attempt == 0:
            got = [metrics(p).get('campusguard_hub_messages_total{type="birth"}', 0) for p in ports]
            missed = int(sum(args.gateways - n for n in got))
        if online(db) >= want:
            return missed
    raise TimeoutError("the first round of snapshots was not committed")


def _healthy(port: int) -> bool:
    try:
        metrics(port)
    except OSError:
        return False
    return True


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hubs", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--gateways", type=int, default=1_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rate", type=float, default=300, help="snapshots per second; 0 = as fast as possible")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-hub-cluster-"))
    work.chmod(0o777)
    pg = Postgres(Path(tempfile.mkdtemp(prefix="bench-hub-cluster-pg-"))).start()
    try:
        rows = [one_tier(n, args, pg, work) for n in args.hubs]
    finally:
        pg.stop()
    out = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "command": " ".join(sys.argv), "rows": rows}
    out |= {"gateways": args.gateways, "devices": args.devices, "rate": args.rate, "seconds": args.seconds}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print("| hubs | device updates/s | hub cores | broker cores (3 nodes) | PostgreSQL cores ", end="")
    print("| per 10k/s: hub | broker | PostgreSQL | births missed | first round (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['hubs']} | {r['device_updates_per_s']:,} | {r['hub_cores']} | {r['broker_cores']} "
            f"| {r['postgresql_cores']} "
            f"| {r['hub_cores_per_10k']} | {r['broker_cores_per_10k']} | {r['postgresql_cores_per_10k']} "
            f"| {r['births_missed']} | {r['first_round_s']} |"
        )


if __name__ == "__main__":
    main()
