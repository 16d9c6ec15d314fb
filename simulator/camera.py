"""A fake IP camera: MJPEG over HTTP, a JPEG snapshot, and optionally an ONVIF device, with faults.

Faults are injected at run time (the simulator's control interface): any VQD fault class of
``simulator.scene.FAULTS``, ``offline`` (the port refuses connections), ``go_silent`` (connections
hang, like a camera whose encoder died), a new password (the agent's credentials stop working),
clock skew and ONVIF events (tamper, motion, signal loss).
"""

import asyncio
import base64
import contextlib
import time
from typing import Any

from aiohttp import web

from simulator.scene import FAULTS, Scene

BOUNDARY = "campusguardframe"


class CameraActionError(ValueError):
    """An action the camera does not know or bad parameters."""


class FakeCamera:
    """One simulated camera on 127.0.0.1."""

    def __init__(
        self,
        camera_id: str,
        *,
        port: int,
        username: str | None = None,
        password: str | None = None,
        fps: float = 10.0,
        width: int = 640,
        height: int = 360,
        onvif: bool = True,
        seed: int = 7,
        host: str = "127.0.0.1",
    ) -> None:
        self.id = camera_id
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.fps = fps
        self.scene = Scene(width, height, seed)
        self.fault: str | None = None
        self.mode = "normal"  # normal | offline | silent
        self._unsilenced = asyncio.Event()
        self._unsilenced.set()
        self.clients = 0
        self._started = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.app = web.Application()
        self.app.router.add_get("/mjpeg", self._mjpeg)
        self.app.router.add_get("/snapshot.jpg", self._snapshot)
        self.onvif: Any = None
        if onvif:
            from simulator.onvif_responder import OnvifState, add_onvif_routes

            base = f"http://{host}:{port}"
            self.onvif = OnvifState(
                username=username or "admin",
                password=password or "",
                main_uri=f"{base}/mjpeg",
                sub_uri=f"{base}/mjpeg",
                snapshot_uri=f"{base}/snapshot.jpg",
            )
            add_onvif_routes(self.app, self.onvif)

    @property
    def address(self) -> str:
        """How an agent should address this camera."""
        base = f"{self.host}:{self.port}"
        return f"onvif://{base}" if self.onvif is not None else f"http://{base}/mjpeg"

    async def start(self) -> None:
        """Listen."""
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        """Stop listening and drop every client."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorized(self, request: web.Request) -> bool:
        if not self.username:
            return True
        expected = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    async def _gate(self, request: web.Request) -> web.StreamResponse | None:
        if self.mode == "silent":
            await self._unsilenced.wait()
        if not self._authorized(request):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="camera"'})
        return None

    def _jpeg(self) -> bytes:
        return self.scene.jpeg(time.monotonic() - self._started, self.fault)

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        return web.Response(body=self._jpeg(), content_type="image/jpeg")

    async def _mjpeg(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace;boundary={BOUNDARY}", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self.clients += 1
        period = 1.0 / self.fps
        next_at = time.monotonic()
        try:
            while self.mode == "normal":
                jpeg = await asyncio.to_thread(self._jpeg)
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                await response.write(head.encode() + jpeg + b"\r\n")
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.clients -= 1
        return response

    def describe(self) -> dict[str, Any]:
        """The camera as the control interface lists it."""
        return {
            "id": self.id,
            "kind": "camera",
            "address": self.address,
            "mode": self.mode,
            "fault": self.fault,
            "clients": self.clients,
            "onvif": self.onvif is not None,
        }

    async def act(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Apply a control action; return what changed."""
        if action in FAULTS:
            self.fault = action
            return {"fault": action}
        if action in ("clear", "restore"):
            self.fault = None
            return {"fault": None}
        if action == "offline":
            self.mode = "offline"
            if self._site is not None:
                await self._site.stop()
                self._site = None
            return {"mode": "offline"}
        if action == "go_silent":
            self.mode = "silent"
            self._unsilenced.clear()
            return {"mode": "silent"}
        if action == "recover":
            if self._site is None and self._runner is not None:
                with contextlib.suppress(OSError):
                    await self._listen()
            self.mode = "normal"
            self._unsilenced.set()
            return {"mode": "normal"}
        if action == "password":
            self.password = str(params.get("password", ""))
            if self.onvif is not None:
                self.onvif.password = self.password
            return {"password": "changed"}
        if self.onvif is None:
            raise CameraActionError(f"unknown action {action!r} for a camera without ONVIF")
        if action == "clock_skew":
            self.onvif.clock_skew_s = float(params.get("seconds", 0))
            return {"clock_skew_s": self.onvif.clock_skew_s}
        if action in ("tamper", "motion", "signal_loss"):
            on = bool(params.get("on", True))
            self.onvif.set_event(action, on)
            return {action: on}
        raise CameraActionError(f"unknown action {action!r} for a camera")
