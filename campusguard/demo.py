"""``campusguard demo``: the whole system on embedded defaults, no setup.

An in-process MQTT broker (amqtt), simulated devices for two schools, one agent per school, and the
hub on SQLite under the data folder serving its API. ``--scenario story`` plays a scripted story.
"""

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campusguard.net import free_port
from campusguard.tasks import stopped_within

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from hub.api.deps import Services
    from hub.settings import HubSettings
    from simulator.config import SimConfig

log = logging.getLogger(__name__)


DEMO_CAMERA_PASSWORD = "admin123"  # noqa: S105 - the simulated cameras' password, demo only
SCHOOLS = {
    "school-001": "第一实验小学",
    "school-002": "阳光幼儿园",
    "school-003": "实验幼儿园",
}
# School 3 is small: a panic box and a fence on its bus, no cameras and no access control.
SMALL_SCHOOLS = {"school-003": ("panic-gate", "fence")}


LOCATIONS = {
    "panic-gate": "门卫室",
    "panic-office": "校长室",
    "fence": "东侧围墙",
    "gate-main": "校门",
    "cam-gate": "校门",
    "cam-playground": "操场",
}


def _location(device_id: object) -> str:
    return LOCATIONS[str(device_id).split("-", 1)[1]]


def _school_devices(
    index: int, bus_port: int, cameras: list[dict[str, object]], password: Path, only: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """One school's devices as its agent configures them: four boxes on one bus (or ``only`` those), its cameras."""
    boxes = [
        {"id": f"s{index}-panic-gate", "profile": "one_click_alarm/generic-ykb100", "unit_id": 1},
        {"id": f"s{index}-panic-office", "profile": "one_click_alarm/generic-ykb100", "unit_id": 2},
        {"id": f"s{index}-fence", "profile": "fence/generic-dwz4", "unit_id": 3},
        {"id": f"s{index}-gate-main", "profile": "access_gate/generic-mj200", "unit_id": 4},
    ]
    if only is not None:
        boxes = [b for b in boxes if str(b["id"]).split("-", 1)[1] in only]
    on_bus = [{**d, "address": f"tcp://127.0.0.1:{bus_port}", "location": _location(d["id"])} for d in boxes]
    gate_camera = f"s{index}-cam-gate"
    if any(c["id"] == gate_camera for c in cameras):  # the gate camera sees the gatehouse's panic box
        for d in on_bus:
            if d["id"] == f"s{index}-panic-gate":
                d["cameras"] = [gate_camera]
    camera_devices = [
        {
            "id": c["id"],
            "profile": "camera/generic-onvif",
            "address": f"onvif://127.0.0.1:{c['port']}",
            "username": "admin",
            "password_file": str(password),
            "interval_s": 2.0,
            "location": _location(c["id"]),
        }
        for c in cameras
    ]
    return on_bus + camera_devices


def demo_configs(data_dir: Path, broker_port: int, control_port: int) -> tuple["SimConfig", list["AgentConfig"]]:
    """The simulator config and one agent config per school."""
    from agent.config import AgentConfig
    from simulator.config import SimConfig

    servers: list[dict[str, Any]] = []
    cameras: list[dict[str, object]] = []
    agents: list[AgentConfig] = []
    password_file = data_dir / "camera-password"
    password_file.write_text(DEMO_CAMERA_PASSWORD, encoding="utf-8")
    password_file.chmod(0o600)
    for index, school in enumerate(SCHOOLS, start=1):
        port = free_port()
        only = SMALL_SCHOOLS.get(school)
        school_cameras: list[dict[str, object]] = (
            []
            if only is not None
            else [
                {"id": f"s{index}-cam-gate", "port": free_port(), "seed": 10 * index + 1},
                {"id": f"s{index}-cam-playground", "port": free_port(), "seed": 10 * index + 2},
            ]
        )
        devices = _school_devices(index, port, school_cameras, password_file, only)
        boxes = [{k: d[k] for k in ("id", "profile", "unit_id")} for d in devices if "unit_id" in d]
        servers.append({"id": f"bus-{index}", "port": port, "devices": boxes})
        cameras.extend({**c, "password": DEMO_CAMERA_PASSWORD} for c in school_cameras)
        agents.append(
            AgentConfig.model_validate(
                {
                    "school_id": school,
                    "gateway_id": "gw-01",
                    "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}"},
                    "spool": {"path": str(data_dir / f"spool-{school}.db")},
                    "snapshot_interval_s": 5,
                    "defaults": {"interval_s": 0.5, "timeout_s": 0.3},
                    "cameras": {"snapshot_dir": str(data_dir / f"snapshots-{school}"), "cpu_budget_cores": 0.5},
                    "devices": devices,
                }
            )
        )
    sim = SimConfig.model_validate({"control_port": control_port, "servers": servers, "cameras": cameras})
    return sim, agents


# What each demo school declares (docs/compliance.md), with one known fault each: school 1's west
# wall is under 2 m with no fence zone; school 2's gate camera reaches only the local platform;
# school 3, a kindergarten, has neither access control nor pick-up cards. A fourth comes with the
# story (--scenario story): school 1's playground camera is covered, and fails ZJ2018-CAM-24H
# after the demo's 15 s of grace until it is uncovered.
DEMO_PROFILES = """schools:
  - school_id: school-001
    type: primary
    perimeter:
      - {id: east, wall_height_m: 1.8, fence_zone: "s1-fence:1"}
      - {id: west, wall_height_m: 1.6}
      - {id: north, wall_height_m: 2.4}
    points:
      - {device_id: s1-cam-gate, kind: camera, location: main_gate,
         networked: [{platform: police, how: forwarding_test}, {platform: local_video, how: registration}]}
      - {device_id: s1-cam-playground, kind: camera, location: playground,
         networked: [{platform: local_video, how: registration}]}
  - school_id: school-002
    type: kindergarten
    pickup_cards: true
    perimeter: [{id: all, wall_height_m: 2.2}]
    points:
      - {device_id: s2-gate-main, kind: access_gate, location: main_gate}
      - {device_id: s2-cam-gate, kind: camera, location: main_gate,
         networked: [{platform: local_video, how: registration}]}
      - {device_id: s2-cam-playground, kind: camera, location: playground,
         networked: [{platform: local_video, how: registration}]}
  - school_id: school-003
    type: kindergarten
    pickup_cards: false
    perimeter: [{id: all, wall_height_m: 2.2}]
    points:
      - {device_id: s3-panic-gate, kind: one_click_alarm, location: guard_room}
      - {device_id: s3-fence, kind: fence, location: perimeter}
"""


def hub_settings(data_dir: Path, broker_port: int, port: int) -> "HubSettings":
    """The demo hub: SQLite under the data folder, the embedded broker, the API on ``port``."""
    from hub.settings import HubSettings

    profiles = data_dir / "school-profiles.yaml"
    profiles.write_text(DEMO_PROFILES, encoding="utf-8")
    return HubSettings.model_validate(
        {
            # amqtt speaks MQTT 3.1.1 only.
            "mqtt": {
                "url": f"mqtt://127.0.0.1:{broker_port}",
                "client_id": "campusguard-demo-hub",
                "protocol": "3.1.1",
            },
            "database": {"url": f"sqlite:///{(data_dir / 'hub.db').resolve()}"},
            "liveness": {"default_snapshot_interval_s": 5, "check_every_s": 0.5, "rebirth_min_interval_s": 5},
            "alarms": {"escalate_after_s": 120},
            "api": {"port": port},
            # The embedded broker has no per-gateway credentials, so no ACL could back a registry.
            "gateways": {"enrolment": "open"},
            "districts": [{"id": "demo-district", "name": "示范区 (demo district)", "packs": ["zhenjiang-2018"]}],
            "schools": [{"id": school, "name": name, "district": "demo-district"} for school, name in SCHOOLS.items()],
            "compliance": {
                "profiles": str(profiles.resolve()),
                "overrides": [
                    {
                        "rule": "ZJ2018-CAM-24H",
                        "district": "demo-district",
                        "params": {"grace_s": 15},
                        "reason": "演示：缩短宽限以便几秒内看到结果 (demo: a short grace to see it at once)",
                    }
                ],
            },
            # every heartbeat's numbers in hub.timeseries.db beside hub.db: the device pages' curves
            "timeseries": {"backend": "embedded"},
        }
    )


DEMO_USER = "demo"


def demo_account(services: "Services") -> tuple[str, str]:
    """The demo account (district_admin of every school) with a fresh password and API token; both returned.

    The data folder outlives a run, so an existing account gets a new password and its old tokens
    are revoked: only the credentials printed by this run work.
    """
    from hub.auth import passwords, tokens, users

    password, now = passwords.generate_password(), services.now()
    with services.sessions.begin() as db:
        user = users.get(db, DEMO_USER)
        if user is None:
            user = users.add(
                db, username=DEMO_USER, password=password, role="district_admin", schools=[], district="*",
                display_name="演示 Demo", now=now,
            )  # fmt: skip
        else:
            users.set_password(db, user, password, now)
            users.set_disabled(db, user, False)
            for old in tokens.of_user(db, user.id):
                tokens.revoke(db, old.id, now)
        _, token = tokens.create(db, user, "demo", now)
    return password, token


def demo_patrols(services: "Services") -> None:
    """A video patrol plan for each demo school with cameras (网上巡查): its gate and playground, a round
    every two hours from 07:00 to 22:00. Each run owes rounds from its own start only: a data folder
    left from an earlier run must not show the rounds nobody could walk while the demo was stopped."""
    from hub.patrols.models import PatrolPlanRow

    now = services.now()
    with services.sessions.begin() as db:
        for index in (1, 2):
            school = f"school-{index:03d}"
            row = db.get(PatrolPlanRow, f"demo-{school}") or PatrolPlanRow(id=f"demo-{school}", created_by="demo")
            row.scope, row.name, row.enabled = f"school:{school}", "校门与操场巡查", True
            row.cameras = [[school, f"s{index}-cam-gate"], [school, f"s{index}-cam-playground"]]
            row.start, row.end, row.every_min, row.grace_min = "07:00", "22:00", 120, 30
            row.created_at = row.updated_at = row.owed_from = now
            row.updated_by = "demo"
            db.merge(row)


STORY: list[tuple[float, str, str, dict[str, object], str]] = [
    (6, "s1-panic-gate", "press", {}, "门卫室一键报警按下 (panic button pressed at the gatehouse)"),
    (12, "s2-fence", "cut", {"zone": 2}, "阳光幼儿园 东侧围墙 2 防区断线 (fence zone 2 cut)"),
    (18, "s1-gate-main", "go_silent", {}, "校门门禁失联 (main gate controller stops answering)"),
    (22, "s1-cam-playground", "covered", {}, "操场摄像机被遮挡 (the playground camera is covered)"),
    (26, "s1-panic-gate", "release", {}, "按钮松开, 报警保持 (button released; the alarm stays latched)"),
    (30, "s1-panic-gate", "reset", {}, "现场复位 (reset at the box; the console may now resolve it)"),
]


async def play_story(control_url: str, lose_gateway: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Drive the simulators through the story, then lose school 2's gateway."""
    import httpx

    started = asyncio.get_running_loop().time()
    async with httpx.AsyncClient(base_url=control_url, timeout=5) as client:
        for at, device, action, body, caption in STORY:
            delay = started + at - asyncio.get_running_loop().time()
            if delay > 0 and await stopped_within(stop, delay):
                return
            print(f"story: {caption}", flush=True)
            (await client.post(f"/devices/{device}/actions/{action}", json=body)).raise_for_status()
    if not await stopped_within(stop, 6):
        print("story: 阳光幼儿园 网关断开 (school 2's gateway is lost)", flush=True)
        await lose_gateway()


async def _run(duration_s: float | None, port: int, data_dir: Path, scenario: str | None) -> None:
    from amqtt.broker import Broker

    from agent.runtime import Agent
    from hub.app import create_app
    from hub.serve import bound_port, start_server
    from simulator.run import Simulator

    broker_port = free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{broker_port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    sim_config, agent_configs = demo_configs(data_dir, broker_port, 0)
    simulator = Simulator(sim_config)
    await simulator.start()
    print(f"MQTT broker (embedded): mqtt://127.0.0.1:{broker_port}", flush=True)
    print(f"simulator control: {simulator.control_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    app = create_app(hub_settings(data_dir, broker_port, port))
    agents = [Agent(config) for config in agent_configs]
    agent_stops = {agent.config.school_id: asyncio.Event() for agent in agents}
    try:
        async with asyncio.TaskGroup() as tg:
            server, http_task = await start_server(app, "127.0.0.1", port)
            print(f"CampusGuard console: http://127.0.0.1:{bound_port(server)}", flush=True)
            demo_patrols(app.state.services)
            if app.state.services.settings.api.auth == "on":
                password, token = demo_account(app.state.services)
                print(f"Demo login: {DEMO_USER} / {password}   API token: Authorization: Bearer {token}", flush=True)
            for agent in agents:
                tg.create_task(agent.run(agent_stops[agent.config.school_id]), name=f"agent:{agent.config.school_id}")

            async def lose_gateway() -> None:
                agent_stops["school-002"].set()

            if scenario == "story":
                tg.create_task(play_story(simulator.control_url, lose_gateway, stop), name="story")
            await stop.wait()
            for agent_stop in agent_stops.values():
                agent_stop.set()
            server.should_exit = True
            await http_task
    finally:
        await simulator.stop()
        await broker.shutdown()


def run_demo(duration_s: float | None, port: int, data_dir: Path, scenario: str | None) -> int:
    """Run the demo until Ctrl-C or for ``duration_s`` seconds."""
    if scenario not in (None, "story"):
        print(f"campusguard: unknown scenario {scenario!r}; known: story", file=sys.stderr)
        return 2
    from hub.serve import PortTaken, check_port

    try:
        check_port("127.0.0.1", port)
    except PortTaken as exc:
        print(f"campusguard: {exc} (choose another with --port, or --port 0 for any free one)", file=sys.stderr)
        return 2
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the story's requests are printed as captions
    asyncio.run(_run(duration_s, port, data_dir, scenario))
    return 0
