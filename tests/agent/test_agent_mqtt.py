"""The agent against real mosquitto and simulated Modbus devices (integration tier)."""

import asyncio
import time
from pathlib import Path

import pytest

from tests.agent.harness import agent_config, running, running_agent, sim_config, unique_prefix, watcher
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


async def test_press_is_one_alarm_within_a_second_and_only_the_reset_clears_it(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    async with (
        running(sim_config({"bus": [("panic-1", "panic"), ("fence-1", "fence")]})) as sim,
        watcher(mosquitto, prefix) as seen,
        running_agent(agent_config(sim, mosquitto, tmp_path, prefix, interval_s=0.2)),
    ):
        await seen.wait_for(lambda e: e.device_id == "panic-1" and e.availability == "online", 5)
        pressed_at = time.monotonic()
        await sim.devices["panic-1"].act("press", {})
        arrived, raised = await seen.wait_for(lambda e: e.type == "alarm.raised" and e.alarm_type == "panic", 2)
        assert arrived - pressed_at < 1.0, f"press to broker took {arrived - pressed_at:.3f} s"
        assert (raised.severity, raised.latched, raised.device_id) == ("critical", True, "panic-1")

        await sim.devices["panic-1"].act("release", {})
        await asyncio.sleep(1.0)  # five polls
        assert [e.type for e in seen.alarms("panic-1", "panic")] == ["alarm.raised"]

        await sim.devices["panic-1"].act("reset", {})
        await seen.wait_for(lambda e: e.type == "alarm.reset" and e.alarm_type == "panic", 2)
        assert [e.type for e in seen.alarms("panic-1", "panic")] == ["alarm.raised", "alarm.reset"]


async def test_silent_device_goes_offline_fast_and_its_bus_neighbours_keep_their_rate(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    interval = 0.2
    bus = [("dead", "panic"), ("n1", "panic"), ("n2", "fence"), ("n3", "gate")]
    async with (
        running(sim_config({"rs485": bus})) as sim,
        watcher(mosquitto, prefix) as seen,
        running_agent(agent_config(sim, mosquitto, tmp_path, prefix, interval_s=interval)) as agent,
    ):
        await seen.wait_for(lambda e: e.device_id == "n3" and e.availability == "online", 5)
        await asyncio.sleep(1)
        asked = sim.devices["dead"].requests
        await sim.devices["dead"].act("go_silent", {})
        _, offline = await seen.wait_for(lambda e: e.device_id == "dead" and e.availability == "offline", 5)
        assert offline.reason == "timeout"
        # Fast means at the first unanswered polls, not after a long backoff: counted in polls, since
        # a loaded machine stretches every interval (the time it takes is bench material).
        unanswered = sim.devices["dead"].requests - asked
        assert 1 <= unanswered <= 4, f"offline after {unanswered} unanswered requests"

        neighbours = ["n1", "n2", "n3"]
        before = {n: agent.devices[n].loop.polls for n in neighbours}  # type: ignore[union-attr]
        dead_before = sim.devices["dead"].requests
        window_s = 4.0
        await asyncio.sleep(window_s)
        rates = {n: (agent.devices[n].loop.polls - before[n]) / window_s for n in neighbours}  # type: ignore[union-attr]
        for name, rate in rates.items():
            assert rate >= 0.9 / interval, f"{name} polled {rate:.2f}/s, expected {1 / interval:.1f}/s"
        assert all(agent.devices[n].availability.state == "online" for n in neighbours)
        # The dead device is retried with backoff (at most 2 s here), not every interval.
        attempts = sim.devices["dead"].requests - dead_before
        assert 1 <= attempts <= window_s / 1.0, f"{attempts} attempts in {window_s} s"

        await sim.devices["dead"].act("recover", {})
        await seen.wait_for(lambda e: e.device_id == "dead" and e.availability == "online", 5)


async def test_device_answering_nonsense_is_degraded_with_a_reason_and_others_keep_polling(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    async with (
        running(sim_config({"bus": [("odd", "gate"), ("ok", "gate")]})) as sim,
        watcher(mosquitto, prefix) as seen,
        running_agent(agent_config(sim, mosquitto, tmp_path, prefix)),
    ):
        await seen.wait_for(lambda e: e.device_id == "ok" and e.availability == "online", 5)
        await sim.devices["odd"].act("answer_exceptions", {})
        _, degraded = await seen.wait_for(lambda e: e.device_id == "odd" and e.availability == "degraded", 3)
        assert degraded.reason == "protocol"
        await sim.devices["ok"].act("force_door", {})
        await seen.wait_for(lambda e: e.device_id == "ok" and e.alarm_type == "door_forced", 3)


async def test_presence_birth_and_snapshot(mosquitto: Mosquitto, tmp_path: Path) -> None:
    prefix = unique_prefix()
    async with (
        running(sim_config({"bus": [("p1", "panic"), ("f1", "fence")]})) as sim,
        watcher(mosquitto, prefix) as seen,
    ):
        async with running_agent(agent_config(sim, mosquitto, tmp_path, prefix)):
            await asyncio.sleep(2.5)
        kinds = [kind for _, kind, _ in seen.other]
        presence = [body["state"] for _, kind, body in seen.other if kind == "presence"]
        assert presence[0] == "online"
        assert presence[-1] == "stopped"
        birth = next(body for _, kind, body in seen.other if kind == "birth")
        assert {d["id"]: d["kind"] for d in birth["devices"]} == {"p1": "one_click_alarm", "f1": "fence"}
        snapshots = [body for _, kind, body in seen.other if kind == "status"]
        assert kinds.count("status") >= 2
        last = {d["device_id"]: d for d in snapshots[-1]["devices"]}
        assert last["f1"]["availability"] == "online"
        assert last["f1"]["metrics"]["zone1_voltage_kv"] == pytest.approx(8.5)
        assert last["p1"]["metrics"]["polls"] > 5


async def test_rtu_over_tcp_devices_are_polled(mosquitto: Mosquitto, tmp_path: Path) -> None:
    prefix = unique_prefix()
    async with (
        running(sim_config({"converter": [("p1", "panic"), ("g1", "gate")]}, framer="rtu+tcp")) as sim,
        watcher(mosquitto, prefix) as seen,
        running_agent(agent_config(sim, mosquitto, tmp_path, prefix)),
    ):
        assert sim.devices["p1"].address.startswith("rtu+tcp://")
        await seen.wait_for(lambda e: e.device_id == "g1" and e.availability == "online", 5)
        await sim.devices["g1"].act("hold_door", {})
        await seen.wait_for(lambda e: e.device_id == "g1" and e.alarm_type == "door_held", 3)
