"""The hub SIGKILLed after an alarm is stored but before the receiver's ACK: after a restart the
receiver has it exactly once, counted in pysiaalarm's own callback (no dedupe on our side).

A proxy in front of pysiaalarm withholds the frame (so no ACK comes back); the kill drops it with
the connection, as a receiver that never got it. The restarted hub finds the outbox row pending,
its open attempt is marked ``interrupted``, and it sends again.
"""

import asyncio
import re
import signal
import time
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import sqlalchemy
import sqlalchemy.exc
import sqlalchemy.pool
import yaml

from contract import Event, MessageType, TopicTree, encode
from contract.messages import new_event_id, utc_now
from tests.forwarding.receiver import Proxy, account, sia_receiver
from tests.hub.support import start_hub, unique_prefix, wait_healthy
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration


def query(db: str, sql: str) -> list[tuple[Any, ...]]:
    """Read the hub's database from outside, as an auditor would."""
    engine = sqlalchemy.create_engine(db, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sqlalchemy.text(sql))]
    except sqlalchemy.exc.SQLAlchemyError:
        return []  # not created yet
    finally:
        engine.dispose()


async def until(check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {timeout_s} s")


async def test_hub_killed_before_the_ack_the_receiver_gets_the_alarm_once(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    # On PostgreSQL the claim of the killed hub is freed by its successor at once (the hub id is its
    # MQTT client id, stable across restarts) instead of after the 30 s lease: delivery within 15 s.
    prefix, api_port = unique_prefix(), free_port()
    db, config, log = db_url, tmp_path / "hub.yaml", tmp_path / "hub.log"
    async with sia_receiver([account("1234")]) as arc:
        proxy = await Proxy(arc.port).start()
        receiver = {"type": "dc09", "host": "127.0.0.1", "port": proxy.port, "account": "1234", "ack_timeout_s": 30}
        config.write_text(
            yaml.safe_dump(
                {
                    "mqtt": {"url": mosquitto.url, "topic_prefix": prefix, "client_id": f"hub-{api_port}"},
                    "database": {"url": db},
                    "api": {"port": api_port, "auth": "off"},  # accounts are not the subject here
                    "gateways": {"enrolment": "open"},
                    "forwarding": {
                        "receivers": {"arc-1": receiver},
                        "routes": [{"name": "police", "primary": "arc-1"}],
                        "schools": {"school-a": {"account": "1234"}},
                        "retry": {"initial_s": 0.1, "max_s": 1},
                    },
                }
            )
        )
        hub = start_hub(config, log)
        try:
            await wait_healthy(api_port)
            proxy.mode = "hold"
            event = Event(
                event_id=new_event_id(),
                seq=1,
                device_id="panic-1",
                ts=utc_now(),
                type="alarm.raised",
                alarm_type="panic",
                severity="critical",
                latched=True,
            )
            topic = TopicTree(prefix).topic("school-a", "gw-01", MessageType.EVENT)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
                await client.publish(topic, encode(event), qos=1)

            # Stored, outbox row pending, one attempt open, the frame held at the "receiver".
            await until(lambda: query(db, "SELECT state FROM forward_outbox") == [("pending",)], 10)
            await until(lambda: query(db, "SELECT count(*) FROM forward_attempts WHERE result IS NULL") == [(1,)], 10)
            await until(lambda: len(proxy.held) == 1, 5)
            assert query(db, "SELECT kind FROM alarms") == [("panic",)]
            first_try = re.search(rb'"ADM-CID"(\d{4})R.*\[H([^\]]+)\]', proxy.held[0])
            assert first_try is not None, proxy.held[0]
            hub.send_signal(signal.SIGKILL)
            hub.wait()
            assert arc.data_events() == []  # the receiver never saw it: nothing was acknowledged

            proxy.mode = "up"  # the kill dropped the held frame with its connection
            hub = start_hub(config, log)
            await wait_healthy(api_port)
            await arc.wait_for(1, 15)
            await until(lambda: query(db, "SELECT state FROM forward_outbox") == [("delivered",)], 10)
            await asyncio.sleep(2)  # a duplicate would arrive by now
            assert [(e.code, e.ri, e.account) for e in arc.data_events()] == [("PA", "001", "1234")]
            # What lets a receiver that did get the first try recognise the resend: the same
            # sequence number and time of occurrence, after a hub restart and a new connection.
            [received] = arc.data_events()
            assert received.sequence == first_try.group(1).decode()
            assert (received.x_data or "").startswith("H") and first_try.group(2).decode() in (received.x_data or "")

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as http:
                [alarm] = (await http.get("/api/v1/alarms")).json()["items"]
                [delivery] = alarm["forwarding"]
                assert (delivery["state"], delivery["delivered_to"], delivery["attempts"]) == ("delivered", "arc-1", 2)
                assert (delivery["cid"], delivery["sia"], delivery["zone"]) == (120, "PA", 1)
                attempts = (await http.get(f"/api/v1/alarms/{alarm['id']}/forwarding")).json()["items"]
                assert [a["result"] for a in attempts] == ["interrupted", "ack"]
        finally:
            if hub.poll() is None:
                hub.terminate()
                hub.wait(10)
            await proxy.stop()
