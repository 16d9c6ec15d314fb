"""Load generator for bench/hub_ingest: births, then snapshots from many simulated gateways.

Payloads are pre-encoded ``contract.Snapshot`` and ``contract.Birth`` messages (validated once by
the contract's own models), published at QoS 1 on loopback with paho, like agents do. One MQTT
connection carries every gateway's topics: the bench measures the hub, not connection handling.

    load.py births    --port P --prefix bench/v1 --gateways 1000 --devices 50
    load.py snapshots --port P --prefix bench/v1 --gateways 1000 --devices 50 --seconds 30 [--rate 0]

``snapshots`` prints one JSON line: how many snapshots were published and over how long.
"""

import argparse
import collections
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from contract import Birth, DeviceInfo, DeviceStatus, MessageType, Snapshot, TopicTree, encode
from contract.messages import SpoolStats

OUTSTANDING = 2_000  # unacknowledged publishes at most: paho queues without bound otherwise


def school(index: int) -> str:
    """The school of gateway ``index`` (one gateway per school)."""
    return f"school-{index:05d}"


def device_ids(devices: int) -> list[str]:
    """Device ids of one gateway."""
    return [f"dev-{n:03d}" for n in range(devices)]


def births(tree: TopicTree, gateways: int, devices: int) -> list[tuple[str, bytes]]:
    """One birth per gateway."""
    now = datetime.now(UTC)
    out = []
    for g in range(gateways):
        infos = [
            DeviceInfo(id=d, kind="fence", profile="fence/generic-dwz4", interval_s=1) for d in device_ids(devices)
        ]
        out.append((tree.topic(school(g), "gw-01", MessageType.BIRTH), encode(Birth(ts=now, seq=0, devices=infos))))
    return out


def snapshots(tree: TopicTree, gateways: int, devices: int, interval_s: float) -> list[tuple[str, bytes]]:
    """One snapshot per gateway, every device online with two metrics (as the agent reports)."""
    now = datetime.now(UTC)
    out = []
    for g in range(gateways):
        states = [
            DeviceStatus(device_id=d, availability="online", since=now, metrics={"rtt_ms": 4.2, "polls": 1200 + n})
            for n, d in enumerate(device_ids(devices))
        ]
        snap = Snapshot(
            ts=now,
            seq=0,
            interval_s=interval_s,
            devices=states,
            spool=SpoolStats(pending_events=0, pending_alarms=0, dropped_telemetry=0),
        )
        out.append((tree.topic(school(g), "gw-01", MessageType.STATUS), encode(snap)))
    return out


def connect(port: int) -> mqtt.Client:
    """A started paho client on loopback."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-load-{time.time_ns()}")
    client.max_inflight_messages_set(1_000)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    return client


def publish_all(
    client: mqtt.Client, messages: list[tuple[str, bytes]], rate: float, seconds: float
) -> tuple[int, float]:
    """Publish in a loop over ``messages`` for ``seconds`` (once through if 0), at ``rate`` per s (0: flat out)."""
    pending: collections.deque[mqtt.MQTTMessageInfo] = collections.deque()
    started = time.monotonic()
    sent = 0
    while True:
        topic, payload = messages[sent % len(messages)]
        if rate > 0:
            due = started + sent / rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
        pending.append(client.publish(topic, payload, qos=1))
        sent += 1
        while len(pending) > OUTSTANDING:
            pending.popleft().wait_for_publish(30)
        if (seconds == 0 and sent == len(messages)) or (seconds > 0 and time.monotonic() - started >= seconds):
            break
    for info in pending:
        info.wait_for_publish(30)
    return sent, time.monotonic() - started


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("births", "snapshots"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", default="bench/v1")
    parser.add_argument("--gateways", type=int, default=1_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=0, help="snapshots per second; 0 = as fast as possible")
    parser.add_argument("--interval-s", type=float, default=1.0, help="the snapshot interval the payload declares")
    args = parser.parse_args()
    tree = TopicTree(args.prefix)
    client = connect(args.port)
    if args.mode == "births":
        sent, took = publish_all(client, births(tree, args.gateways, args.devices), 0, 0)
    else:
        messages = snapshots(tree, args.gateways, args.devices, args.interval_s)
        sent, took = publish_all(client, messages, args.rate, args.seconds)
    client.loop_stop()
    client.disconnect()
    print(
        json.dumps(
            {
                "mode": args.mode,
                "sent": sent,
                "seconds": round(took, 3),
                "bytes_each": len(messages[0][1]) if args.mode == "snapshots" else None,
            }
        )
    )


if __name__ == "__main__":
    main()
