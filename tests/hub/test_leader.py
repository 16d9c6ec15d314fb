"""One sweep leader among hubs sharing PostgreSQL; failover when it is SIGKILLed. SQLite: always leader."""

import asyncio
import re
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from sqlalchemy import create_engine

from hub.leader import Leadership
from tests.hub.conftest import Postgres
from tests.hub.support import start_hub, unique_prefix
from tests.support.servers import Mosquitto, free_port

ESCALATE_S = 1.0
FAILOVER_S = 5.0  # leader_check_s is 0.5 here: a dead leader's lock is freed when its socket closes


def test_sqlite_hub_is_always_the_leader(tmp_path: Path) -> None:
    leadership = Leadership(create_engine(f"sqlite:///{tmp_path / 'hub.db'}"))
    assert leadership.is_leader and leadership.refresh()


async def sweep_metrics(client: httpx.AsyncClient, port: int) -> tuple[bool, int] | None:
    """(leader, sweeps run) from a hub's /metrics; None while it is not answering."""
    try:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.TransportError:
        return None
    leader = re.search(r"^campusguard_hub_leader (\S+)$", text, re.M)
    sweeps = re.search(r"^campusguard_hub_sweeps_total (\S+)$", text, re.M)
    if not (leader and sweeps):
        return None
    return float(leader.group(1)) == 1, int(float(sweeps.group(1)))


def escalation_levels(conninfo: str, alarm_id: str) -> list[int]:
    """The escalation levels audited for one alarm, in order: one entry per level if one hub sweeps."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'alarm.escalate' AND target = %s ORDER BY id", (alarm_id,)
        ).fetchall()
    return [int(detail["level"]) for (detail,) in rows]


@pytest.mark.integration
async def test_one_hub_sweeps_and_another_takes_over_when_it_is_killed(
    mosquitto: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    db_url = postgres.create_database()
    conninfo = db_url.replace("postgresql+psycopg://", "postgresql://")
    prefix, ports = unique_prefix(), [free_port(), free_port()]
    hubs: list[subprocess.Popen[bytes]] = []
    for index, port in enumerate(ports):
        config = tmp_path / f"hub{index}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "mqtt": {
                        "url": mosquitto.url,
                        "topic_prefix": prefix,
                        "client_id": f"hub{index}-{port}",
                        "share_group": "hub",
                    },
                    "database": {"url": db_url},
                    "liveness": {"check_every_s": 0.1, "leader_check_s": 0.5},
                    "alarms": {"escalate_after_s": ESCALATE_S},
                    "api": {"port": port},
                    "gateways": {"enrolment": "open"},
                }
            )
        )
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            for index, port in enumerate(ports):  # one after the other: the first one migrates the schema
                hubs.append(start_hub(tmp_path / f"hub{index}.yaml", tmp_path / f"hub{index}.log"))
                deadline = time.monotonic() + 20
                while await sweep_metrics(client, port) is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
            deadline = time.monotonic() + 20
            states: list[tuple[bool, int] | None] = [None, None]
            while time.monotonic() < deadline:
                states = [await sweep_metrics(client, port) for port in ports]
                if all(states) and sum(s[0] for s in states if s) == 1:
                    break
                await asyncio.sleep(0.1)
            assert all(states), f"hubs not answering: {states}"
            leaders = [i for i, s in enumerate(states) if s and s[0]]
            assert len(leaders) == 1, f"exactly one leader expected: {states}"
            leader, follower = leaders[0], 1 - leaders[0]

            # An alarm nobody acknowledges: each period one level, audited once if exactly one hub sweeps.
            alarm_id = f"test-{uuid.uuid4().hex[:12]}"
            with psycopg.connect(conninfo) as conn:
                conn.execute(
                    "INSERT INTO alarms (id, school_id, gateway_id, kind, severity, latched, state, condition,"
                    " raised_at, received_at, escalation_level) VALUES (%s, 's', 'g', 'panic', 'critical', true,"
                    " 'raised', 'active', %s, %s, 0)",
                    (alarm_id, *[datetime.now(UTC) - timedelta(seconds=0.5)] * 2),
                )
            before = [await sweep_metrics(client, port) for port in ports]
            await asyncio.sleep(2.2 * ESCALATE_S)
            after = [await sweep_metrics(client, port) for port in ports]
            assert before[leader] and after[leader] and after[leader][1] > before[leader][1] + 5
            assert after[follower] == (False, 0), "the follower must not sweep"
            levels = escalation_levels(conninfo, alarm_id)
            assert levels[:2] == [1, 2] and levels == sorted(set(levels)), levels

            hubs[leader].send_signal(signal.SIGKILL)
            hubs[leader].wait()
            killed = time.monotonic()
            while time.monotonic() - killed < FAILOVER_S:
                state = await sweep_metrics(client, ports[follower])
                if state and state[0] and state[1] > 0:
                    break
                await asyncio.sleep(0.05)
            took = time.monotonic() - killed
            state = await sweep_metrics(client, ports[follower])
            assert state and state[0], f"no takeover within {FAILOVER_S} s"
            assert took < FAILOVER_S

            # The survivor escalates from where the dead leader left off; still one entry per level.
            seen = len(levels)
            deadline = time.monotonic() + 3 * ESCALATE_S
            while len(levels := escalation_levels(conninfo, alarm_id)) <= seen and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert len(levels) > seen and levels == sorted(set(levels)), levels
    finally:
        for hub in hubs:
            if hub.poll() is None:
                hub.terminate()
                hub.wait(10)
