"""bench/ingest_fuzz: random and boundary messages through a running hub; rejects, dead letters, crashes, stalls.

One mosquitto and one ``campusguard hub`` process (SQLite, open enrolment: payloads are the subject
here, identity is tested in tests/hub/test_identity.py) on loopback. A publisher sends ``--messages``
messages, a seeded mix of: random bytes; truncated, deep or non-UTF-8 JSON; contract messages with
fields at and past every bound (seq 2^63, NaN, Infinity, years 1 and 9999, 1 MB text, huge ints);
forged and foreign topics; and, every ``--real-every``-th message, a real alarm from a gateway of
its own. Hostile messages go at QoS 0 by default (the broker may shed some under load: the counts
say how many reached the hub); real alarms always at QoS 1. While it runs, /healthz is read every
second. At the end: the hub still running, the real alarms stored (the acks counted on the real
gateway's ack topic), rejects by reason, dead letters by stage, batch failures, and the rate.

    .venv/bin/python bench/ingest_fuzz/run.py --messages 1000000
"""

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
from campusguard.net import free_port, wait_for_port  # noqa: E402
from contract.messages import new_event_id  # noqa: E402

PREFIX = "fuzz/v1"
TYPES = ("presence", "birth", "status", "event", "image")
TIMES = ["2026-11-27T08:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59Z"]
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", str(2**63), str(2**64), str(-(2**63) - 1), "-0", "null", "true"]


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


def healthy(port: int) -> bool:
    """Whether /healthz answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _value(rng: random.Random) -> str:
    """A JSON value text, often at or past a bound."""
    pick = rng.random()
    if pick < 0.4:
        return rng.choice(LITERALS)
    if pick < 0.6:
        return json.dumps(rng.choice(TIMES))
    if pick < 0.65:
        return json.dumps("x" * rng.choice([201, 10_000, 1_000_000]))
    if pick < 0.8:
        return json.dumps(rng.randint(-(2**70), 2**70))
    return json.dumps(rng.choice(["", "a\u0000b", "\U0001f600" * 50, [], {}, [1, [2, [3]]], {"a": {"b": {}}}]))


def _contract_message(rng: random.Random, kind: str) -> bytes:
    """A contract message of ``kind`` with one to three fields replaced by boundary values."""
    device = {"device_id": "d1", "availability": "online", "since": TIMES[0], "metrics": {"m": 1}, "active_alarms": []}
    bases: dict[str, dict[str, Any]] = {
        "presence": {"state": "online", "ts": TIMES[0]},
        "birth": {"ts": TIMES[0], "seq": 0, "devices": [{"id": "d1", "kind": "k", "profile": "p", "interval_s": 1}]},
        "status": {"ts": TIMES[0], "seq": 0, "interval_s": 10, "devices": [device]},
        "event": {
            "event_id": new_event_id(),
            "seq": 1,
            "device_id": "d1",
            "ts": TIMES[0],
            "type": "alarm.raised",
            "alarm_type": "panic",
            "value": 1,
        },
        "image": {"ts": TIMES[0], "image_id": "d1.x"},
    }
    base = bases[kind]
    text = json.dumps({"schema_version": rng.choice(["1.2", "1.0", "1.9", "2.0"]), **base})
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([*base, "extra", "seq", "ts", "interval_s", "value", "zone"])
        text = text[:-1] + f', "{key}": {_value(rng)}}}'  # a duplicate key: the last one wins in JSON
    return text.encode()


def fuzz(rng: random.Random) -> tuple[str, bytes]:
    """One hostile (topic, payload)."""
    school_id, gateway_id = rng.choice([("s1", "g1"), ("s2", "g2"), ("s" * 64, "g"), ("a+b", "#")])
    kind = rng.choice(TYPES)
    topic = f"{PREFIX}/{school_id}/{gateway_id}/{kind}"
    roll = rng.random()
    if roll < 0.05:
        topic = rng.choice([f"{PREFIX}/x/{kind}", f"other/{school_id}/{gateway_id}/{kind}", f"{PREFIX}/s/g/nope"])
    if roll < 0.15:
        return topic, rng.randbytes(rng.randint(0, 300))
    if roll < 0.2:
        depth = rng.choice([100, 10_000, 100_000])
        return topic, b"[" * depth + b"]" * depth
    if roll < 0.3:
        good = _contract_message(rng, kind)
        return topic, good[: rng.randint(0, len(good))]
    return topic, _contract_message(rng, kind)


def real_alarm(seq: int) -> bytes:
    """A valid panic alarm of the real gateway."""
    event = {
        "schema_version": "1.2", "event_id": new_event_id(), "seq": seq, "device_id": "panic-1",
        "ts": datetime.now(UTC).isoformat(), "type": "alarm.raised", "alarm_type": "panic",
        "severity": "critical", "latched": False,
    }  # fmt: skip
    return json.dumps(event).encode()


async def publish(broker_port: int, args: argparse.Namespace, api_port: int) -> dict[str, Any]:
    """Send the mix; watch /healthz; count the real gateway's acks."""
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible mix, not security
    acked: set[str] = set()
    unhealthy = 0
    real_sent = 0
    stop = asyncio.Event()

    async def watch_health() -> None:
        nonlocal unhealthy
        while not stop.is_set():
            if not await asyncio.to_thread(healthy, api_port):
                unhealthy += 1
            await asyncio.sleep(1)

    async def acks(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            acked.update(json.loads(payload).get("event_ids", []))

    started = time.monotonic()
    async with (
        aiomqtt.Client("127.0.0.1", broker_port, identifier="fuzzer") as fuzzer,
        aiomqtt.Client("127.0.0.1", broker_port, identifier="real-gateway") as real,
    ):
        await real.subscribe(f"{PREFIX}/real/gw/ack", qos=1)
        device = {"id": "panic-1", "kind": "one_click_alarm", "profile": "p", "interval_s": 1}
        birth = {"schema_version": "1.2", "ts": datetime.now(UTC).isoformat(), "seq": 0, "devices": [device]}
        await real.publish(f"{PREFIX}/real/gw/birth", json.dumps(birth).encode(), qos=1, retain=True)
        tasks = [asyncio.create_task(watch_health()), asyncio.create_task(acks(real))]
        pending: list[Any] = []
        for n in range(args.messages):
            if n % args.real_every == 0:
                real_sent += 1
                pending.append(real.publish(f"{PREFIX}/real/gw/event", real_alarm(real_sent), qos=1))
            else:
                topic, payload = fuzz(rng)
                pending.append(fuzzer.publish(topic, payload[:1_048_576], qos=args.qos))
            if len(pending) >= 500:
                await asyncio.gather(*pending, return_exceptions=True)
                pending.clear()
        await asyncio.gather(*pending, return_exceptions=True)
        published_s = time.monotonic() - started
        deadline = time.monotonic() + 300
        while len(acked) < real_sent and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        drained_s = time.monotonic() - started
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "published_s": round(published_s, 1),
        "drained_s": round(drained_s, 1),
        "real_sent": real_sent,
        "real_acked": len(acked),
        "healthz_failures": unhealthy,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark."""
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-fuzz-"))
    broker_port, api_port = free_port(), free_port()
    conf = work / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n{user}persistence false\n"
        "max_queued_messages 200000\nmax_inflight_messages 100\nmessage_size_limit 1048576\n"
        "log_dest stdout\nlog_type error\n"
    )
    hub_yaml = work / "hub.yaml"
    hub_yaml.write_text(
        json.dumps(
            {
                "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}", "topic_prefix": PREFIX, "client_id": "fuzz-hub"},
                "database": {"url": f"sqlite:///{work / 'hub.db'}"},
                "api": {"port": api_port, "auth": "off"},
                "gateways": {"enrolment": "open"},
            }
        )
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (work / "mosquitto.log").open("wb") as log:
            procs.append(
                subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)], stdout=log)
            )
        wait_for_port(broker_port)
        with (work / "hub.log").open("wb") as log:
            hub = subprocess.Popen(
                [sys.executable, "-m", "campusguard.cli", "hub", "--config", str(hub_yaml)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip
        procs.append(hub)
        wait_for_port(api_port, 30)
        sent = asyncio.run(publish(broker_port, args, api_port))
        alive = hub.poll() is None
        m = metrics(api_port) if alive else {}
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)
    rejects = {k.split('"')[1]: int(v) for k, v in m.items() if k.startswith("campusguard_hub_rejects_total{")}
    with sqlite3.connect(work / "hub.db") as db:
        kept = dict(db.execute("SELECT stage, count(*) FROM dead_letters GROUP BY stage").fetchall())
        alarms = db.execute("SELECT count(*) FROM alarms WHERE school_id = 'real'").fetchone()[0]
    return {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "messages": args.messages,
        "qos_hostile": args.qos,
        "seed": args.seed,
        **sent,
        "rate_msg_s": round(args.messages / sent["published_s"]),
        "hub_alive": alive,
        "rejects_by_reason": rejects,
        "dead_letters_kept_by_stage": kept,
        "real_alarms_in_hub": alarms,
        "ingest_restarts": int(m.get("campusguard_hub_ingest_restarts_total", -1)),
        "batch_failures": int(m.get("campusguard_hub_batch_failures_total", -1)),
        "events_stored": int(m.get("campusguard_hub_events_stored_total", -1)),
        "work_dir": str(work),
    }


def main() -> None:
    """Parse arguments, run, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--real-every", type=int, default=100, help="one real alarm every N messages")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument(
        "--qos", type=int, choices=[0, 1], default=0, help="for the hostile messages; real alarms use 1"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt warns about every burst of pending publishes
    results = run(args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
