"""Cameras: ONVIF probing, stream liveness and image diagnosis, in tiers, on a CPU budget.

One check per poll: ONVIF identity/clock/streams every ``onvif_every`` checks and its events every
check; then the stream: liveness without decoding, or (every ``image_every`` checks, budget
permitting) a decode of a few frames for video quality diagnosis against this camera's own day or
night baseline and reference frame. Blocking OpenCV work runs in the shared VideoPool.
"""

import asyncio
import base64
import http.client
import logging
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from agent.camera.pool import VideoPool
from agent.camera.profile import CameraProfile
from agent.camera.snapshots import SnapshotStore
from agent.camera.video import Frame, encode_jpeg, image_metrics, light_mode, read_stream, require_transport, small_grey
from agent.camera.vqd import CameraDiagnosis, Verdict
from agent.config import DeviceConfig
from agent.drivers.base import DriverContext
from agent.errors import AuthError, DeviceTimeout, RetryableError, Unreachable
from agent.profiles import LoadedProfile
from agent.registers import Value

log = logging.getLogger(__name__)
REFERENCE_REFRESH = 20  # healthy image checks between reference refreshes
CARRIED = ("blind", "image_fault", "image_id", "y_mean", "sharpness", "noise_sigma", "ncc_ref")


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL with user and password inserted (for OpenCV); never log the result."""
    if not username:
        return url
    parts = urlsplit(url)
    auth = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    netloc = f"{auth}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def http_status(url: str, username: str | None, password: str | None, timeout_s: float) -> int:
    """The HTTP status of a GET (headers only), to tell refused credentials from a dead stream."""
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname or "", parts.port, timeout=timeout_s)
    headers = {}
    if username:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        connection.request("GET", parts.path or "/", headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


class CameraDriver:
    """Checks one camera."""

    requests_per_poll = 1
    schedule_group: str | None = None  # cameras are checked in a worker pool, each at its own phase
    turn: AbstractAsyncContextManager[Any] | None = None  # no shared medium to wait for

    def __init__(
        self, device: DeviceConfig, profile: LoadedProfile, pool: VideoPool, snapshots: SnapshotStore | None
    ) -> None:
        self.device = device
        self.profile: CameraProfile = profile.as_type(CameraProfile)
        self.settings = self.profile.camera
        self.pool = pool
        self.snapshots = snapshots
        self.password = device.resolve_password()
        require_transport(self.settings.transport)
        self.diagnosis = CameraDiagnosis(self.settings.thresholds, self.settings.persistence, self.settings.clear_after)
        self.references: dict[str, Frame] = {}
        self._healthy_since_reference = 0
        self.checks = 0
        self.skipped = 0
        self._carried: dict[str, Value] = {"blind": "", "image_fault": "", "image_id": ""}
        self._onvif_values: dict[str, Value] = {}
        self._stream_urls: tuple[str | None, str | None] = (device.stream_url, device.substream_url)
        parts = urlsplit(device.address)
        self.onvif: Any = None
        if parts.scheme == "onvif" and self.settings.onvif:
            from agent.camera.onvif import OnvifClient  # imported only for ONVIF cameras

            self.onvif = OnvifClient(parts.hostname or "", parts.port or 80, device.username, self.password)

    @property
    def poll_deadline_s(self) -> float:
        """The wall-clock budget of one whole check."""
        return self.settings.deadline_s + (10.0 if self.onvif else 0.0)

    async def connect(self) -> None:
        """Nothing to open ahead: each check opens what it needs."""

    async def close(self) -> None:
        """Close the ONVIF session."""
        if self.onvif is not None:
            await self.onvif.close()

    def _stream_url(self) -> str:
        main, sub = self._stream_urls
        url = (sub if self.settings.use_substream and sub else None) or main
        if url is None:
            address = self.device.address
            if urlsplit(address).scheme == "onvif":
                raise DeviceTimeout("no stream URI known yet (ONVIF gave none)")
            url = address
        return url

    async def _probe_onvif(self) -> None:
        info = await self.onvif.probe()
        main = info.profiles[0] if info.profiles else None
        sub = info.profiles[1] if len(info.profiles) > 1 else None
        self._stream_urls = (
            self.device.stream_url or (main.stream_uri if main else None),
            self.device.substream_url or (sub.stream_uri if sub else None),
        )
        floor_w, floor_h = self.settings.min_resolution
        values: dict[str, Value] = {"clock_drift_s": round(info.clock_drift_s, 1)}
        if info.firmware:
            values["firmware"] = info.firmware[:100]  # IT staff look it up against the vendor's advisories
        if main and main.width and main.height:
            values.update(main_width=main.width, main_height=main.height)
            values["resolution_low"] = main.width * main.height < floor_w * floor_h
        if main and main.fps_limit:
            values["main_fps"] = main.fps_limit
        if info.retention_days is not None:
            values["retention_days"] = round(info.retention_days, 2)
        self._onvif_values.update(values)

    async def _reachable(self, url: str) -> None:
        parts = urlsplit(url)
        default = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}.get(parts.scheme, 80)
        try:
            async with asyncio.timeout(self.settings.open_timeout_s):
                _, writer = await asyncio.open_connection(parts.hostname, parts.port or default)
        except TimeoutError:
            raise DeviceTimeout(f"no answer from {parts.hostname}:{parts.port or default}") from None
        except OSError as exc:
            raise Unreachable(f"{parts.hostname}:{parts.port or default}: {exc.strerror or exc}") from None
        writer.close()
        await writer.wait_closed()

    def _diagnose(self, frames: list[Frame]) -> tuple[Verdict, str, Frame]:
        first, last = frames[0], frames[-1]
        mode = light_mode(last)
        previous = small_grey(first) if len(frames) > 1 else None
        reference = self.references.get(mode)
        if reference is None and self.references:  # e.g. no night reference yet: compare with the day one
            reference = next(iter(self.references.values()))
        metrics = image_metrics(last, previous, reference)
        verdict = self.diagnosis.feed(metrics, mode)
        if verdict.raw is None:
            self._healthy_since_reference += 1
            stale = self._healthy_since_reference >= REFERENCE_REFRESH and metrics.get("ncc_ref", 0) > 0.9
            if mode not in self.references or stale:
                self.references[mode] = small_grey(last)
                self._healthy_since_reference = 0
        return verdict, mode, last

    async def poll(self) -> dict[str, Value]:
        """One tiered check."""
        self.checks += 1
        values = await self._onvif_check()
        url = self._stream_url()
        await self._reachable(url)
        image_due = self.checks % self.settings.image_every == 0 or self.checks == 1
        if image_due and self.pool.over_budget():
            image_due = False
            self.skipped += 1
        s = self.settings
        result, cpu_s = await self.pool.run(
            lambda: read_stream(
                with_credentials(url, self.device.username, self.password),
                decode_frames=s.frames if image_due else 0,
                liveness_s=s.liveness_s,
                transport=s.transport,
                open_timeout_s=s.open_timeout_s,
                read_timeout_s=s.read_timeout_s,
                deadline_s=s.deadline_s,
            )
        )
        if not result.opened or result.packets == 0:
            await self._explain_failure(url)
            raise DeviceTimeout(f"stream {result.error or 'gave nothing'}")
        values.update(
            reachable=True,
            fps=result.fps,
            bitrate_kbps=result.bitrate_kbps,
            width=result.width,
            height=result.height,
            open_ms=result.open_ms,
            image_checks_skipped=self.skipped,
        )
        if image_due and result.frames:
            (verdict, _mode, last), diag_cpu = await self.pool.run(self._diagnose, result.frames)
            cpu_s += diag_cpu
            self._carried.update(
                blind=verdict.blind or "",
                image_fault=verdict.quality or "",
                **{
                    k: verdict.metrics[k]
                    for k in ("y_mean", "sharpness", "noise_sigma", "ncc_ref")
                    if k in verdict.metrics
                },
            )
            await self._keep_snapshot(verdict, last)
        values["check_cpu_ms"] = round(cpu_s * 1000, 1)
        values.update(self._carried)
        return values

    async def picture(self) -> bytes | None:
        """A picture now: one decoded frame as a JPEG; None if the stream gave none."""
        s = self.settings
        url = with_credentials(self._stream_url(), self.device.username, self.password)
        result, _ = await self.pool.run(
            lambda: read_stream(
                url, decode_frames=1, liveness_s=0.0, transport=s.transport, open_timeout_s=s.open_timeout_s,
                read_timeout_s=s.read_timeout_s, deadline_s=s.deadline_s,
            )
        )  # fmt: skip
        if not result.frames:
            log.info("%s: no picture: %s", self.device.id, result.error or "no frame")
            return None
        jpeg, _ = await self.pool.run(encode_jpeg, result.frames[-1])
        return jpeg

    async def _onvif_check(self) -> dict[str, Value]:
        """The ONVIF part of a check: a full probe every ``onvif_every`` checks, events every time."""
        values: dict[str, Value] = {}
        if self.onvif is None:
            return values
        every = self.settings.onvif_every
        if self.checks % every == 1 or every == 1 or not any(self._stream_urls):
            await self._probe_onvif()
        try:
            values.update(await self.onvif.events())
        except RetryableError as exc:
            log.debug("%s: ONVIF events unavailable: %s", self.device.id, exc)
        values.update(self._onvif_values)
        return values

    async def _keep_snapshot(self, verdict: Verdict, frame: Frame) -> None:
        """Keep a JPEG when the camera goes blind, so the guard can see what it saw."""
        if not verdict.blind:
            self._carried["image_id"] = ""
            return
        if self._carried.get("image_id") or self.snapshots is None:
            return
        jpeg, _ = await self.pool.run(encode_jpeg, frame)
        store = self.snapshots
        self._carried["image_id"] = await asyncio.to_thread(store.save, self.device.id, jpeg, datetime.now(UTC))

    async def _explain_failure(self, url: str) -> None:
        """Turn a stream that would not open into a reason: refused credentials, or nothing."""
        if urlsplit(url).scheme not in ("http", "https"):
            return
        try:
            status = await asyncio.to_thread(http_status, url, self.device.username, self.password, 2.0)
        except OSError:
            return
        if status in (401, 403):
            raise AuthError(f"the camera refused the credentials (HTTP {status})")


def create(device: DeviceConfig, profile: LoadedProfile, context: DriverContext, timeout_s: float) -> CameraDriver:
    """Registry entry: a camera driver sharing the agent's video pool and snapshot store."""
    pool = context.shared.get("video")
    if not isinstance(pool, VideoPool):
        raise TypeError("the agent must provide the video pool before creating camera drivers")
    snapshots = context.shared.get("snapshots")
    return CameraDriver(device, profile, pool, snapshots if isinstance(snapshots, SnapshotStore) else None)
