"""Console tests: a real hub (auth on) with simulators and agents for two schools, and Debian's Chromium.

The hub, simulators and agents run in an event loop of their own on a background thread, so the
tests drive the browser with Playwright's sync API while the stack keeps running; the stack is
shared by the module's tests (each test uses devices of its own) and can restart the hub.
"""

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from agent.config import AgentConfig
from agent.runtime import Agent
from hub.api.deps import Services
from hub.app import create_app
from hub.auth import tokens, users
from hub.serve import EmbeddedServer
from hub.settings import HubSettings
from simulator.config import SimConfig
from simulator.run import Simulator
from tests.hub.support import PROFILES, SHUTDOWN_S, add_patrol_plan
from tests.support.servers import Mosquitto, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=user-gesture-required",  # as a guard's desktop browser: no sound before a gesture
]
PASSWORD = "correct horse battery"
SCHOOLS = {"school-a": "第一实验小学", "school-b": "阳光幼儿园"}
# (device, profile key, location); a location with markup checks that data is never parsed as HTML.
DEVICES = {
    "school-a": [
        ("a-panic-1", "panic", "门卫室"),
        ("a-panic-2", "panic", "校长室"),
        ("a-panic-3", "panic", "<img src=x onerror=alert(1)>值班室"),
        ("a-fence", "fence", "东侧围墙"),
        ("a-panic-cam", "panic", "门卫室"),  # seen by a-cam-gate: its alarms come with a picture
        ("a-panic-fwd", "panic", "教学楼"),  # forwarded to the receiver
        ("a-box-list", "panic", "图书馆"),  # goes silent: a technical alarm for the compact list
    ],
    "school-b": [("b-panic-1", "panic", "门卫室"), ("b-panic-fwd", "panic", "教学楼")],
}
CAMERA = "a-cam-gate"  # an MJPEG camera of school A's, linked to a-panic-cam
LINKED = {"a-panic-cam": [CAMERA]}
PATROLS = [("school-a", CAMERA, "校门巡查"), ("school-b", "b-cam-door", "幼儿园门口巡查")]  # one video patrol each
ACCOUNTS = {
    "guard-a": ("guard", ["school-a"], None),
    "guard-b": ("guard", ["school-b"], None),
    "admin": ("district_admin", [], "*"),
}


class Stack:
    """Simulators, one agent per school and the hub, in an event loop on a background thread."""

    def __init__(self, broker: Mosquitto, workdir: Path) -> None:
        self.workdir = workdir
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-test-stack", daemon=True)
        prefix = f"w{uuid.uuid4().hex[:10]}/v1"
        self.receiver_port = free_port()
        self.received: list[bytes] = []  # what the police receiver (a webhook here) was sent
        self.settings = HubSettings.model_validate(
            {
                "mqtt": {"url": broker.url, "topic_prefix": prefix, "client_id": f"hub-{uuid.uuid4().hex[:8]}"},
                "database": {"url": f"sqlite:///{workdir / 'hub.db'}"},
                "liveness": {"heartbeat_misses": 3, "default_snapshot_interval_s": 1, "check_every_s": 0.1},
                "api": {"port": free_port(), "auth": "on"},
                "gateways": {"enrolment": "open"},
                "schools": [{"id": s, "name": name, "district": "haidian"} for s, name in SCHOOLS.items()],
                "timeseries": {"backend": "embedded", "flush_s": 0.2},
                "alarms": {"mute_s": 3},  # a console's mute runs out within a test
                "compliance": {"profiles": str(self._profiles(workdir)), "packs": ["zhenjiang-2018"]},
                # School A's panic alarms go to a receiver (a local webhook); school B has no account: 未联网.
                "forwarding": {
                    "receivers": {
                        "police-110": {
                            "type": "webhook",
                            "url": f"http://127.0.0.1:{self.receiver_port}/",
                            "secret": "web-tests-shared-secret",
                        }
                    },
                    "routes": [{"name": "110", "primary": "police-110"}],
                    "schools": {"school-a": {"account": "A001"}},
                },
            }
        )
        self.prefix = prefix
        self.broker_url = broker.url
        self.camera_port = free_port()
        self.sim = Simulator(
            SimConfig.model_validate(
                {
                    "servers": [
                        {
                            "id": f"bus-{school}",
                            "devices": [
                                {"id": d, "profile": PROFILES[k], "unit_id": i}
                                for i, (d, k, _) in enumerate(devices, 1)
                            ],
                        }
                        for school, devices in DEVICES.items()
                    ],
                    "cameras": [
                        {"id": CAMERA, "port": self.camera_port, "onvif": False, "username": None, "password": None}
                    ],
                }
            )
        )
        self.agent_stop = asyncio.Event()
        self.agent_tasks: list[asyncio.Task[None]] = []
        self.server: EmbeddedServer | None = None
        self.server_task: asyncio.Task[None] | None = None
        self.services: Services | None = None
        self.admin_token = ""

    @staticmethod
    def _profiles(workdir: Path) -> Path:
        """School A's west wall is 1.6 m with no fence zone (a failing rule); school B is a
        kindergarten with pick-up cards whose perimeter was never surveyed (to check), judged by
        Yongchuan's pack too (a target with a deadline it cannot be seen to meet)."""
        path = workdir / "profiles.yaml"
        path.write_text(
            "schools:\n"
            "  - {school_id: school-a, type: primary, perimeter: [{id: west, wall_height_m: 1.6}],\n"
            "     points: [{device_id: a-fence, kind: fence, location: perimeter}]}\n"
            "  - {school_id: school-b, type: kindergarten, pickup_cards: true,\n"
            "     packs: [zhenjiang-2018, yongchuan-2021]}\n",
            encoding="utf-8",
        )
        return path

    @property
    def url(self) -> str:
        """The console's address."""
        return f"http://127.0.0.1:{self.settings.api.port}"

    def call(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 30) -> Any:
        """Run a coroutine in the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def start(self) -> "Stack":
        """Start the thread, the simulators, the hub with its accounts, then the agents."""
        self.thread.start()
        self.call(self._start(), 60)
        return self

    def _agent_config(self, school: str) -> AgentConfig:
        locations = {d: where for d, _, where in DEVICES[school]}
        return AgentConfig.model_validate(
            {
                "school_id": school,
                "gateway_id": "gw-01",
                "mqtt": {"url": self.broker_url, "topic_prefix": self.prefix, "keepalive_s": 5},
                "spool": {"path": str(self.workdir / f"spool-{school}.db"), "ack_timeout_s": 3},
                "snapshot_interval_s": 0.5,
                "defaults": {"interval_s": 0.1, "timeout_s": 0.2, "offline_after": 2, "max_backoff_s": 0.5},
                "devices": [
                    {
                        "id": d.id,
                        "profile": d.profile.ref,
                        "address": d.address,
                        "unit_id": d.unit_id,
                        "location": locations[d.id],
                        "cameras": LINKED.get(d.id, []),
                    }
                    for d in self.sim.devices.values()
                    if d.id in locations
                ]
                + (
                    [
                        {
                            "id": CAMERA,
                            "profile": "camera/generic-mjpeg",
                            "location": "门卫室",
                            "interval_s": 30,
                            "address": f"http://127.0.0.1:{self.camera_port}/mjpeg",
                        }
                    ]
                    if school == "school-a"
                    else []
                ),
                "cameras": {"snapshot_dir": str(self.workdir / f"snapshots-{school}"), "cpu_budget_cores": 0.5},
            }
        )

    async def _start(self) -> None:
        await self._start_receiver()
        await self.sim.start()
        await self._start_hub()
        assert self.services is not None
        with self.services.sessions.begin() as db:
            for name, (role, schools, district) in ACCOUNTS.items():
                user = users.add(
                    db, username=name, password=PASSWORD, role=role, schools=schools, district=district,
                    display_name=name.upper(), now=self.services.now(),
                )  # fmt: skip
                if name == "admin":
                    self.admin_token = tokens.create(db, user, "web tests", self.services.now())[1]
            # Each school keeps a video patrol of one camera (ZJ2018-VIDEO-PATROL passes): a plan of its own.
            for school, camera, name in PATROLS:
                add_patrol_plan(db, school, camera, self.services.now(), name=name)
        for school in DEVICES:
            agent = Agent(self._agent_config(school))
            self.agent_tasks.append(asyncio.create_task(agent.run(self.agent_stop), name=f"agent:{school}"))

    async def _start_receiver(self) -> None:
        """The police receiver: a webhook that acknowledges every alarm with 200."""
        from aiohttp import web

        async def receive(request: web.Request) -> web.Response:
            self.received.append(await request.read())
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/", receive)
        self.receiver = web.AppRunner(app)
        await self.receiver.setup()
        await web.TCPSite(self.receiver, "127.0.0.1", self.receiver_port).start()

    async def _start_hub(self) -> None:
        app = create_app(self.settings)
        self.services = app.state.services
        # Like hub.serve.start_server, plus a bound on graceful shutdown: an open event stream never
        # ends by itself, so without it uvicorn waits for the browser forever (see docs/console.md).
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.settings.api.port, log_level="critical", timeout_graceful_shutdown=1
        )
        self.server = EmbeddedServer(config)
        self.server_task = asyncio.create_task(self.server.serve(), name="hub:http")
        while not self.server.started:
            if self.server_task.done():
                self.server_task.result()
                raise RuntimeError("the hub stopped during start-up")
            await asyncio.sleep(0.02)
        await asyncio.wait_for(self.services.link.connected.wait(), 10)

    async def _stop_hub(self) -> None:
        assert self.server is not None and self.server_task is not None
        self.server.should_exit = True
        await asyncio.wait_for(self.server_task, SHUTDOWN_S)  # a hub that cannot stop fails the test, not the run

    def restart_hub(self, while_down: Callable[[], None] = lambda: None) -> None:
        """Stop the hub, run ``while_down`` (e.g. press a button), start it again on the same port and database."""
        self.call(self._stop_hub())
        while_down()
        self.call(self._start_hub())

    def act(self, device: str, action: str, body: dict[str, Any] | None = None) -> None:
        """Drive a simulated device through its control interface."""
        response = httpx.post(f"{self.sim.control_url}/devices/{device}/actions/{action}", json=body or {}, timeout=5)
        response.raise_for_status()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the hub's API as the district admin (an API token)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)

    async def _stop(self) -> None:
        self.agent_stop.set()
        await asyncio.gather(*self.agent_tasks, return_exceptions=True)
        if self.server_task is not None and not self.server_task.done():
            await self._stop_hub()
        await self.sim.stop()
        await self.receiver.cleanup()

    def stop(self) -> None:
        """Stop everything and the loop."""
        try:
            self.call(self._stop(), 60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture(scope="session")
def stack(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The running system, shared by the console tests (each uses devices of its own)."""
    running = Stack(mosquitto, tmp_path_factory.mktemp("web")).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) at a control-room screen's size."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any JavaScript error."""
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(10_000)
    yield tab
    assert not errors, f"JavaScript errors: {errors}"
