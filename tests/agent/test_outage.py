"""Nothing is lost through a broker outage: the spool keeps every alarm until the hub acks it."""

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from tests.agent.harness import agent_config, running, running_agent, sim_config, unique_prefix, watcher
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration

DEVICES = 20
ROUNDS = 50  # each round toggles every box's tamper switch: 20 alarm events per round


async def _wait(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def test_thousand_alarms_raised_during_a_broker_outage_all_arrive_in_order(
    own_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    boxes = [(f"box-{i:02d}", "panic") for i in range(DEVICES)]
    buses = {"bus-a": boxes[: DEVICES // 2], "bus-b": boxes[DEVICES // 2 :]}
    async with running(sim_config(buses)) as sim:
        config = agent_config(sim, own_mosquitto, tmp_path, prefix, interval_s=0.1)
        async with running_agent(config) as agent:
            await _wait(lambda: all(d.availability.state == "online" for d in agent.devices.values()), 10, "online")
            own_mosquitto.stop()
            await _wait(lambda: not agent.publisher.connected.is_set(), 10, "agent noticed the outage")
            base = agent.spool.stats().pending_alarms

            on = True
            for round_no in range(1, ROUNDS + 1):
                await asyncio.gather(*(sim.devices[d].act("tamper", {"on": on}) for d, _ in boxes))
                on = not on
                expected = base + round_no * DEVICES
                await _wait(lambda e=expected: agent.spool.stats().pending_alarms >= e, 10, f"round {round_no}")
            assert agent.spool.stats().pending_alarms == base + ROUNDS * DEVICES

            with sqlite3.connect(config.spool.path) as db:
                spooled = db.execute("SELECT event_id, device_id, seq FROM events WHERE is_alarm = 1").fetchall()
            assert len(spooled) >= 1000

            own_mosquitto.start()
            async with watcher(own_mosquitto, prefix, ack=True) as seen:
                wanted = {event_id for event_id, _, _ in spooled}
                await _wait(lambda: wanted <= {e.event_id for _, e in seen.events}, 60, "all alarms delivered")
                await _wait(lambda: agent.spool.stats().pending_events == 0, 30, "spool emptied by acks")

            first_arrival: dict[str, list[int]] = {}
            seen_ids: set[str] = set()
            for _, event in seen.events:
                if event.event_id in seen_ids or not event.is_alarm:
                    continue  # a resend (the hub stores by id), or telemetry, which is replayed after alarms
                seen_ids.add(event.event_id)
                first_arrival.setdefault(event.device_id, []).append(event.seq)
            for device, seqs in first_arrival.items():
                assert seqs == sorted(seqs), f"{device} arrived out of order"
            assert {d for _, d, _ in spooled} == {d for d, _ in boxes}
