"""Start simulated devices on Modbus servers and their control interface."""

import asyncio
import logging
from pathlib import Path
from typing import Any

from pymodbus import FramerType
from pymodbus.server import ModbusTcpServer

import device_profiles
from agent.profiles import LoadedProfile, load_profile, resolve
from campusguard.net import free_port
from simulator.camera import CameraActionError, FakeCamera
from simulator.config import SimConfig
from simulator.control import ControlServer
from simulator.devices import ActionError, SimulatedDevice

log = logging.getLogger(__name__)


class Simulator:
    """Every simulated server and device, and the HTTP control interface over them."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.devices: dict[str, SimulatedDevice] = {}
        self.cameras: dict[str, FakeCamera] = {}
        self.servers: dict[str, ModbusTcpServer] = {}
        self.addresses: dict[str, str] = {}
        self.control = ControlServer(self.handle, config.control_host, config.control_port)
        self._profiles: dict[str, LoadedProfile] = {}

    def _profile(self, ref: str) -> LoadedProfile:
        if ref not in self._profiles:
            dirs = [*self.config.profile_dirs, device_profiles.PROFILES_DIR]
            self._profiles[ref] = load_profile(resolve(ref, dirs), ref)
        return self._profiles[ref]

    async def start(self) -> None:
        """Start every Modbus server, then the control interface."""
        for spec in self.config.servers:
            port = spec.port or free_port(spec.host)
            scheme = "tcp" if spec.framer == "tcp" else "rtu+tcp"
            address = f"{scheme}://{spec.host}:{port}"
            devices = [SimulatedDevice(d.id, d.unit_id, self._profile(d.profile), address) for d in spec.devices]
            framer = FramerType.SOCKET if spec.framer == "tcp" else FramerType.RTU
            server = ModbusTcpServer(
                [d.sim_device() for d in devices],
                address=(spec.host, port),
                framer=framer,
                ignore_missing_devices=True,
            )
            await server.serve_forever(background=True)
            self.servers[spec.id] = server
            self.addresses[spec.id] = address
            for device in devices:
                await device.attach(server.async_setValues)
                self.devices[device.id] = device
        for cam in self.config.cameras:
            camera = FakeCamera(
                cam.id,
                port=cam.port or free_port("127.0.0.1"),
                username=cam.username,
                password=cam.password,
                fps=cam.fps,
                width=cam.width,
                height=cam.height,
                onvif=cam.onvif,
                seed=cam.seed,
            )
            camera.fault = cam.fault
            await camera.start()
            self.cameras[cam.id] = camera
        await self.control.start()

    @property
    def control_url(self) -> str:
        """Where the control interface listens."""
        return f"http://{self.control.host}:{self.control.port}"

    async def stop(self) -> None:
        """Stop the control interface and every server."""
        await self.control.stop()
        for camera in self.cameras.values():
            await camera.stop()
        for server in self.servers.values():
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def handle(self, method: str, parts: list[str], body: dict[str, Any]) -> tuple[int, Any]:
        """Route one control request."""
        if parts == ["devices"] and method == "GET":
            items = [d.describe() for d in self.devices.values()] + [c.describe() for c in self.cameras.values()]
            return 200, {"items": items, "total": len(items)}
        if len(parts) >= 2 and parts[0] == "devices" and parts[1] in self.cameras:
            camera = self.cameras[parts[1]]
            if len(parts) == 2 and method == "GET":
                return 200, camera.describe()
            if len(parts) == 4 and parts[2] == "actions" and method == "POST":
                try:
                    changed = await camera.act(parts[3], body)
                except (CameraActionError, ValueError) as exc:
                    return 400, {"error": str(exc)}
                log.info("%s: %s", camera.id, parts[3])
                return 200, {"ok": True, "device": camera.id, "action": parts[3], "changed": changed}
        if len(parts) >= 2 and parts[0] == "devices":
            device = self.devices.get(parts[1])
            if device is None:
                return 404, {"error": f"no device {parts[1]!r}"}
            if len(parts) == 2 and method == "GET":
                return 200, device.describe()
            if len(parts) == 4 and parts[2] == "actions":
                if method != "POST":
                    return 405, {"error": "use POST for actions"}
                try:
                    changed = await device.act(parts[3], body)
                except ActionError as exc:
                    return 400, {"error": str(exc)}
                log.info("%s: %s %s", device.id, parts[3], body or "")
                return 200, {"ok": True, "device": device.id, "action": parts[3], "changed": changed}
        return 404, {"error": "not found"}


async def serve(config: SimConfig, stop: asyncio.Event) -> None:
    """Run the simulator until ``stop`` is set, printing where it listens."""
    simulator = Simulator(config)
    await simulator.start()
    for server_id, address in simulator.addresses.items():
        print(f"modbus server {server_id}: {address}", flush=True)
    for camera in simulator.cameras.values():
        print(f"camera {camera.id}: {camera.address}", flush=True)
    print(f"simulator control: {simulator.control_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def run_simulator(config_path: Path) -> None:
    """The ``campusguard simulate`` command."""
    import signal

    from simulator.config import load_sim_config

    config = load_sim_config(config_path)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop)

    asyncio.run(main())
