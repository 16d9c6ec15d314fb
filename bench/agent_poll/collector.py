"""The measuring subscriber: logs what every subject delivers, acks the agent like a hub, and answers
the ThingsBoard gateway's ``getSessionLimits`` RPC like a rate-limit-free ThingsBoard server.

Files written to --out (receive time = wall clock in the paho network thread):
* ``samples.csv``  recv,source,device,ts,hr0,dimask   one row per floor / TB device sample
* ``events.csv``   recv,device,type,zone,value,ts,seq,event_id   one row per agent event message
* ``status.csv``   recv,snap_ts,device,polls,poll_ms,availability   one row per device per snapshot
* ``msgs.csv``     recv,kind,bytes   every message
"""

import argparse
import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

SESSION_LIMITS = {
    "maxPayloadSize": 65536,
    "maxInflightMessages": 100,
    "rateLimits": {"messages": "", "telemetryMessages": "", "telemetryDataPoints": ""},
    "gatewayRateLimits": {"messages": "", "telemetryMessages": "", "telemetryDataPoints": ""},
}


def _iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _mask(bits: Any) -> int:
    if isinstance(bits, list):
        return sum(1 << i for i, b in enumerate(bits[:16]) if b)
    return -1


class Collector:
    def __init__(self, out: Path, ack_interval_s: float) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files = {
            n: (out / f"{n}.csv").open("w", encoding="utf-8") for n in ("samples", "events", "status", "msgs")
        }
        self.files["samples"].write("recv,source,device,ts,hr0,dimask\n")
        self.files["events"].write("recv,device,type,zone,value,ts,seq,event_id\n")
        self.files["status"].write("recv,snap_ts,device,polls,poll_ms,availability\n")
        self.files["msgs"].write("recv,kind,bytes\n")
        self.lock = threading.Lock()
        self.pending_acks: dict[str, list[str]] = {}
        self.ack_interval_s = ack_interval_s
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cg-bench-collector")
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message
        self.client.on_subscribe = self.on_subscribe
        self.stopping = threading.Event()

    def on_connect(self, client: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any = None) -> None:
        client.subscribe("#", qos=1)

    def on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: Any, _rc: Any, _p: Any = None) -> None:
        print("ready", flush=True)

    def on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        recv = time.time()
        topic = msg.topic
        payload = msg.payload
        try:
            if topic.startswith("cg/"):
                self._floor(recv, topic[3:], payload)
                kind = "floor"
            elif topic == "v1/gateway/telemetry":
                self._tb(recv, payload)
                kind = "tb_telemetry"
            elif topic.startswith("v1/devices/me/rpc/request/"):
                req = json.loads(payload)
                if req.get("method") == "getSessionLimits":
                    rid = topic.rsplit("/", 1)[-1]
                    client.publish(f"v1/devices/me/rpc/response/{rid}", json.dumps(SESSION_LIMITS), qos=1)
                kind = "tb_rpc"
            elif topic.startswith("campus/"):
                kind = "agent_" + topic.rsplit("/", 1)[-1]
                if topic.endswith("/event"):
                    self._event(recv, topic, payload)
                elif topic.endswith("/status"):
                    self._status(recv, payload)
            else:
                kind = "other:" + topic[:40]
        except (ValueError, KeyError, TypeError) as exc:
            kind = "bad"
            print(f"collector: bad message on {topic}: {exc}", flush=True)
        self.files["msgs"].write(f"{recv:.6f},{kind},{len(payload)}\n")

    def _floor(self, recv: float, device: str, payload: bytes) -> None:
        data = json.loads(payload)
        values = data["values"]
        self.files["samples"].write(
            f"{recv:.6f},floor,{device},{data['ts']:.6f},{values['hr_0']},{_mask(values['di'])}\n"
        )

    def _tb(self, recv: float, payload: bytes) -> None:
        data = json.loads(payload)
        for device, samples in data.items():
            for sample in samples:
                values = sample.get("values", {})
                if "hr_0" not in values:
                    continue
                ts = sample.get("ts", 0) / 1000
                self.files["samples"].write(
                    f"{recv:.6f},tb,{device},{ts:.3f},{values['hr_0']},{_mask(values.get('di'))}\n"
                )

    def _event(self, recv: float, topic: str, payload: bytes) -> None:
        e = json.loads(payload)
        value = e.get("value")
        value_text = "" if value is None else str(int(bool(value)))
        self.files["events"].write(
            f"{recv:.6f},{e['device_id']},{e['type']},{e.get('zone', '')},{value_text},"
            f"{_iso(e['ts']):.6f},{e['seq']},{e['event_id']}\n"
        )
        ack_topic = topic.rsplit("/", 1)[0] + "/ack"
        with self.lock:
            self.pending_acks.setdefault(ack_topic, []).append(e["event_id"])

    def _status(self, recv: float, payload: bytes) -> None:
        snap = json.loads(payload)
        snap_ts = _iso(snap["ts"])
        out = self.files["status"]
        for d in snap["devices"]:
            m = d.get("metrics", {})
            out.write(
                f"{recv:.6f},{snap_ts:.6f},{d['device_id']},{m.get('polls', '')},{m.get('poll_ms', '')},"
                f"{d['availability']}\n"
            )

    def ack_loop(self) -> None:
        while not self.stopping.wait(self.ack_interval_s):
            with self.lock:
                pending, self.pending_acks = self.pending_acks, {}
            for topic, ids in pending.items():
                for start in range(0, len(ids), 1000):
                    body = {
                        "schema_version": "1.0",
                        "ts": datetime.now(UTC).isoformat(),
                        "event_ids": ids[start : start + 1000],
                    }
                    self.client.publish(topic, json.dumps(body), qos=1)
            for f in self.files.values():
                f.flush()

    def run(self, port: int) -> None:
        self.client.connect("127.0.0.1", port, keepalive=60)
        ack_thread = threading.Thread(target=self.ack_loop, daemon=True)
        ack_thread.start()

        def stop(_sig: int, _frame: Any) -> None:
            self.stopping.set()
            self.client.disconnect()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.client.loop_forever()
        ack_thread.join(2)
        for f in self.files.values():
            f.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ack-interval", type=float, default=0.1)
    args = parser.parse_args()
    Collector(args.out, args.ack_interval).run(args.broker_port)


if __name__ == "__main__":
    main()
