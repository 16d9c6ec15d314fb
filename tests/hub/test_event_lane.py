"""An alarm does not queue behind telemetry at the broker.

The hub is stopped (its persistent sessions stay at a real mosquitto), 20,000 snapshots pile up for
it, then one panic press. When it starts again, the press must be committed long before the
snapshots are through: with one session it would be delivered after all of them. Nothing of the
backlog is lost or taken twice, with the hub acknowledging each message only once ingest has it.
"""

import asyncio
import time
import uuid

import paho.mqtt.client as paho
import pytest

from contract import DeviceStatus, Event, MessageType, Snapshot, TopicTree, encode
from contract.messages import new_event_id, utc_now
from tests.hub.support import eventually, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration
BACKLOG = 20_000


def _publish_all(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS1 and wait until the broker has taken every message."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"load-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1_000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=120)
            assert info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()


def _snapshot(seq: int) -> bytes:
    now = utc_now()
    device = DeviceStatus(device_id="fence-1", availability="online", since=now, metrics={"polls": seq})
    return encode(Snapshot(ts=now, seq=seq, interval_s=10, devices=[device]))


def _press() -> bytes:
    return encode(
        Event(
            ts=utc_now(),
            seq=1,
            event_id=new_event_id(),
            device_id="panic-1",
            type="alarm.raised",
            alarm_type="panic",
            severity="critical",
            latched=True,
        )
    )


async def test_a_press_overtakes_a_backlog_of_snapshots(mosquitto: Mosquitto, db_url: str) -> None:
    prefix = unique_prefix()
    tree = TopicTree(prefix)
    settings = hub_settings(mosquitto.url, db_url, prefix, ingest={"queue_max": 100, "batch_max": 200})
    async with running_hub(settings) as hub:  # the sessions are made, then the hub goes down
        await eventually(lambda: asyncio.sleep(0, hub.services.link.connected.is_set()), 10)
    backlog = [(tree.topic("school-b", "gw-b", MessageType.STATUS), _snapshot(n)) for n in range(1, BACKLOG + 1)]
    press = (tree.topic("school-a", "gw-a", MessageType.EVENT), _press())
    await asyncio.to_thread(_publish_all, mosquitto.port, [*backlog, press])

    async with running_hub(settings) as hub:
        services = hub.services
        statuses = services.ingest.metrics.messages

        async def pressed() -> bool:
            page = await hub.get("/api/v1/alarms", kind="panic")
            return bool(page["items"])

        started = time.monotonic()
        await eventually(pressed, 60, every_s=0.02)
        through_at_press = statuses["status"]
        assert through_at_press < BACKLOG / 2, f"the press waited behind {through_at_press} snapshots"

        async def drained() -> bool:
            return statuses["status"] >= BACKLOG and services.ingest.depth() == 0

        await eventually(drained, 300, every_s=0.02)
        assert statuses["status"] == BACKLOG  # nothing of the backlog lost, nothing twice
        print(f"press after {through_at_press} of {BACKLOG} snapshots; drained in {time.monotonic() - started:.1f} s")
