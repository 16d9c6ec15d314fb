"""Run the hub, simulators and agents for hub tests, against real brokers and databases."""

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent.config import AgentConfig
from hub.api.deps import Services
from hub.app import create_app
from hub.auth import tokens, users
from hub.serve import start_server
from hub.settings import HubSettings
from simulator.config import SimConfig
from simulator.run import Simulator
from simulator.thread import SimulatorThread
from tests.support.servers import free_port

SHUTDOWN_S = 60.0  # a hub stops in well under a second; a minute means it hangs
PROFILES = {
    "panic": "one_click_alarm/generic-ykb100",
    "fence": "fence/generic-dwz4",
    "gate": "access_gate/generic-mj200",
}


def unique_prefix() -> str:
    """A topic prefix of the test's own, so tests can share one broker."""
    return f"h{uuid.uuid4().hex[:10]}/v1"


def hub_settings(broker_url: str, db_url: str, prefix: str, **sections: Any) -> HubSettings:
    """Hub settings with accelerated timers; a section given as a dict is merged, anything else replaces."""
    data: dict[str, Any] = {
        "mqtt": {"url": broker_url, "topic_prefix": prefix, "client_id": f"hub-{uuid.uuid4().hex[:8]}"},
        "database": {"url": db_url},
        "liveness": {"heartbeat_misses": 3, "default_snapshot_interval_s": 1, "check_every_s": 0.1},
        "api": {"port": free_port()},
        # Identity is tested in tests/hub/test_identity.py; elsewhere any gateway may speak.
        "gateways": {"enrolment": "open"},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return HubSettings.model_validate(data)


@dataclass
class RunningHub:
    """A hub serving HTTP on a real port, in this event loop."""

    settings: HubSettings
    services: Services
    http: httpx.AsyncClient

    async def get(self, path: str, **params: Any) -> Any:
        """GET a JSON resource; fail on an error status."""
        response = await self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def post(self, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        """POST JSON, as the test admin or as the owner of ``token``."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return await self.http.post(path, json=body, headers=headers)


@contextlib.asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[RunningHub]:
    """Start the app with uvicorn on its port; stop it afterwards."""
    app = create_app(settings)
    server, task = await start_server(app, "127.0.0.1", settings.api.port, settings.api.trusted_proxies)
    base = f"http://127.0.0.1:{settings.api.port}"
    services: Services = app.state.services
    token = create_account(services, "test-admin", "district_admin", district="*")[1]  # sees every school
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=headers) as http:
        await asyncio.wait_for(services.link.connected.wait(), 10)
        try:
            yield RunningHub(settings, services, http)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, SHUTDOWN_S)  # a hub that cannot stop fails the test, not the run


TEST_PASSWORD = "correct horse battery"


def create_account(
    services: Services, username: str, role: str, *, schools: list[str] | None = None, district: str | None = None
) -> tuple[str, str]:
    """An account with ``TEST_PASSWORD`` (kept if it exists: a restarted hub) and a new API token of it."""
    with services.sessions.begin() as db:
        user = users.get(db, username) or users.add(
            db, username=username, password=TEST_PASSWORD, role=role, schools=schools or [], district=district,
            now=services.now(),
        )  # fmt: skip
        _, token = tokens.create(db, user, "tests", services.now())
    return user.username, token


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float, every_s: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; return it, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"not true within {timeout_s} s; last result {last!r}")


async def act(sim: Simulator | SimulatorThread, device: str, action: str, body: dict[str, Any] | None = None) -> None:
    """Drive a simulated device through its HTTP control interface, like an operator would."""
    async with httpx.AsyncClient(base_url=sim.control_url, timeout=5) as client:
        response = await client.post(f"/devices/{device}/actions/{action}", json=body or {})
        response.raise_for_status()


def sim_config(devices: list[tuple[str, str]]) -> SimConfig:
    """One simulated bus with the given (device id, profile key) devices."""
    return SimConfig.model_validate(
        {
            "servers": [
                {
                    "id": "bus",
                    "devices": [{"id": d, "profile": PROFILES[k], "unit_id": i} for i, (d, k) in enumerate(devices, 1)],
                }
            ]
        }
    )


def agent_data(
    sim: Simulator | SimulatorThread, broker_url: str, spool: Path, prefix: str, school: str = "school-a"
) -> dict[str, Any]:
    """An agent configuration (as data) polling every simulated device fast."""
    return {
        "school_id": school,
        "gateway_id": "gw-01",
        "mqtt": {"url": broker_url, "topic_prefix": prefix, "keepalive_s": 5},
        "spool": {"path": str(spool), "ack_timeout_s": 3},
        "snapshot_interval_s": 0.5,
        "defaults": {"interval_s": 0.1, "timeout_s": 0.1, "offline_after": 2, "max_backoff_s": 0.5},
        "devices": [
            {"id": d.id, "profile": d.profile.ref, "address": d.address, "unit_id": d.unit_id}
            for d in sim.devices.values()
        ],
    }


def agent_config(
    sim: Simulator | SimulatorThread, broker_url: str, spool: Path, prefix: str, school: str = "school-a"
) -> AgentConfig:
    """The agent configuration as a model."""
    return AgentConfig.model_validate(agent_data(sim, broker_url, spool, prefix, school))


def start_hub(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``campusguard hub`` as a process of its own, so it can be killed for real."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "campusguard.cli", "hub", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_healthy(port: int, timeout_s: float = 20) -> None:
    """Wait for /healthz to say the database and broker are fine."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("hub not healthy")


def add_patrol_plan(session: Any, school_id: str, camera_id: str, at: Any, name: str | None = None) -> None:
    """A video patrol plan of the school's camera, all day, one round a day: kept until a round is missed."""
    from hub.patrols.models import PatrolPlanRow

    session.add(
        PatrolPlanRow(
            id=f"plan-{school_id}", scope=f"school:{school_id}", name=name or f"{school_id} 巡查",
            cameras=[[school_id, camera_id]], start="00:00", end="00:00", every_min=1440, grace_min=60,
            enabled=True, owed_from=at, created_at=at, created_by="tests", updated_at=at, updated_by="tests",
        )
    )  # fmt: skip
