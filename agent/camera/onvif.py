"""ONVIF adapter: the only agent module that imports onvif-zeep-async (and through it zeep).

It reads identity, clock drift, stream profiles and Profile G recording retention from a camera,
and keeps a PullPoint subscription for tamper, motion and signal-loss states. The library's types
are ``Any`` to mypy and stay inside this module; callers get frozen dataclasses and the agent's
error hierarchy (``agent.errors``).
"""

import asyncio
import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp

from agent.camera.onvif_values import (
    OnvifInfo,
    OnvifProfileInfo,
    as_float,
    as_int,
    is_auth_fault,
    strip_credentials,
    text,
    topic_state,
    utc,
)
from agent.errors import AgentError, AuthError, DeviceTimeout, ProtocolError, Unreachable

__all__ = ["OnvifClient", "OnvifInfo", "OnvifProfileInfo", "topic_state"]


def _import_onvif() -> tuple[Any, Any, Any]:
    """Import onvif without its side effect: onvif/client.py calls logging.basicConfig(level=INFO)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        import zeep.exceptions
        from onvif import ONVIFCamera
        from onvif.exceptions import ONVIFError, ONVIFTimeoutError
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    return ONVIFCamera, zeep.exceptions, (ONVIFError, ONVIFTimeoutError)


_ONVIFCamera, _zeep_errors, (_ONVIFError, _ONVIFTimeoutError) = _import_onvif()

log = logging.getLogger(__name__)

SEARCH_NS = "http://www.onvif.org/ver10/search/wsdl"
PULLPOINT_NS = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
PULL_WAIT_S = 1  # how long one PullMessages may wait on the camera (whole seconds: some firmware)
PULL_MESSAGE_LIMIT = 100
SUBSCRIPTION = dt.timedelta(seconds=120)  # asked for; renewed once half of what the camera granted has passed
DRIFT_RESYNC_S = 2.0  # a clock drift change beyond this rebuilds the services (see probe)
EVENT_NAMES = ("tamper", "motion", "signal_loss")

T = TypeVar("T")


class OnvifClient:
    """One camera over ONVIF; create, use and close it inside one event loop."""

    def __init__(
        self, host: str, port: int, username: str | None, password: str | None, timeout_s: float = 5.0
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password  # never logged, never in an error message
        self.timeout_s = timeout_s
        self._camera: Any = None
        self._discovered = False  # update_xaddrs succeeded on self._camera
        self._drift: dt.timedelta | None = None
        self._lock = asyncio.Lock()
        self._states = dict.fromkeys(EVENT_NAMES, False)
        self._pullpoint: Any = None  # the PullPoint service of the open subscription
        self._manager: Any = None  # its subscription manager service (Renew, Unsubscribe)
        self._renew_at = 0.0  # loop time
        self._expires_at = 0.0

    @property
    def _pull_wait(self) -> dt.timedelta:
        """The camera may hold PullMessages open this long; it must fit in our timeout with room to spare."""
        return dt.timedelta(seconds=PULL_WAIT_S if self.timeout_s >= 2 * PULL_WAIT_S else 0)

    def __repr__(self) -> str:
        return f"OnvifClient({self.host}:{self.port}, user={self.username!r})"

    async def probe(self) -> OnvifInfo:
        """Identity, clock drift, profiles with stream URIs and recording retention."""
        async with self._lock, self._boundary("probe"):
            camera = await self._discover(refresh=True)
            device = await camera.create_devicemgmt_service()
            info = await self._call(device.GetDeviceInformation())
            media = await camera.create_media_service()
            profiles = [await self._profile(media, profile) for profile in await self._call(media.GetProfiles()) or []]
            drift_s = self._drift.total_seconds() if self._drift is not None else 0.0
            retention_days, lag_s = await self._recordings(camera, drift_s)
            return OnvifInfo(
                manufacturer=text(info.Manufacturer),
                model=text(info.Model),
                firmware=text(info.FirmwareVersion),
                serial=text(info.SerialNumber),
                clock_drift_s=drift_s,
                profiles=profiles,
                retention_days=retention_days,
                recording_lag_s=lag_s,
            )

    async def events(self) -> dict[str, bool]:
        """Pull pending event notifications and return the current states of tamper, motion and signal loss."""
        # The subscription is ours, not onvif's PullPointManager: the manager renews from a
        # fire-and-forget task on its own timer, swallows SetSynchronizationPoint errors and retries
        # after 40 s. Here the caller's poll drives everything: renew when due, pull once, and on
        # any failure drop the subscription so the next call makes a fresh one.
        async with self._lock, self._boundary("events"):
            camera = await self._discover(refresh=False)
            loop = asyncio.get_running_loop()
            if self._pullpoint is None or loop.time() >= self._expires_at:
                await self._subscribe(camera)
            try:
                if loop.time() >= self._renew_at:
                    await self._renew(camera)
                result = await self._call(
                    self._pullpoint.PullMessages({"Timeout": self._pull_wait, "MessageLimit": PULL_MESSAGE_LIMIT})
                )
            except BaseException:
                # A lost subscription often means a reboot, which may also have moved the clock:
                # the next call re-reads it (and the service addresses) before subscribing again.
                self._forget_subscription()
                self._discovered = False
                raise
            for message in getattr(result, "NotificationMessage", None) or []:
                self._apply(message)
            return dict(self._states)

    async def close(self) -> None:
        """Unsubscribe (best effort) and close every HTTP session."""
        async with self._lock:
            camera, self._camera = self._camera, None
            manager = self._manager
            self._forget_subscription()
            if camera is None:
                return
            try:
                if manager is not None:
                    async with asyncio.timeout(self.timeout_s):
                        await manager.Unsubscribe()
            except (TimeoutError, OSError, aiohttp.ClientError, _zeep_errors.Error, _ONVIFError) as exc:
                log.debug("%r: unsubscribe failed: %s", self, type(exc).__name__)
            finally:
                await camera.close()

    # --- discovery --------------------------------------------------------------------------------

    async def _discover(self, refresh: bool) -> Any:
        """The camera with its service addresses; refresh re-reads the clock and GetServices."""
        if self._camera is not None and self._discovered and not refresh:
            return self._camera
        if self._camera is None:
            self._camera = self._new_camera()
        camera = self._camera
        self._discovered = False
        await self._call(camera.update_xaddrs())  # GetSystemDateAndTime (sets dt_diff), GetServices
        self._discovered = True
        drift: dt.timedelta | None = camera.dt_diff
        if (
            self._drift is not None
            and drift is not None
            and abs((drift - self._drift).total_seconds()) > DRIFT_RESYNC_S
        ):
            # Quirk of onvif-zeep-async: update_xaddrs only rebuilds the device service with the new
            # dt_diff; media, events and search keep signing WS-Security timestamps with the old one,
            # so a camera whose clock was corrected would start refusing us. Start over. The old
            # subscription is not unsubscribed (that call would carry the stale offset); it expires.
            log.info("%r: camera clock moved by %.0f s; reconnecting", self, (drift - self._drift).total_seconds())
            self._forget_subscription()
            self._camera = None
            await camera.close()
            self._drift = None
            return await self._discover(refresh=True)
        self._drift = drift
        return camera

    def _new_camera(self) -> Any:
        # ONVIFCamera makes aiohttp sessions in __init__, so it must be built inside the running loop,
        # and it pops http_proxy/https_proxy from os.environ: put them back.
        saved = {key: os.environ[key] for key in ("http_proxy", "https_proxy") if key in os.environ}
        try:
            # no_cache: only the bundled WSDLs are read, so zeep's SQLite cache in ~/.cache is not needed.
            return _ONVIFCamera(self.host, self.port, self.username, self._password, no_cache=True, adjust_time=True)
        finally:
            os.environ.update(saved)

    # --- probe parts ------------------------------------------------------------------------------

    async def _profile(self, media: Any, profile: Any) -> OnvifProfileInfo:
        token = text(getattr(profile, "token", None))
        encoder = getattr(profile, "VideoEncoderConfiguration", None)
        resolution = getattr(encoder, "Resolution", None)
        rate = getattr(encoder, "RateControl", None)
        gov = getattr(getattr(encoder, "H264", None), "GovLength", None)
        if gov is None:
            gov = getattr(getattr(encoder, "MPEG4", None), "GovLength", None)
        request = {"ProfileToken": token, "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}}
        try:
            media_uri = await self._call(media.GetStreamUri(request))
        except _zeep_errors.Fault as fault:
            if is_auth_fault(fault):
                raise
            # A profile without video (audio or metadata only) has no stream; the rest of the probe stands.
            log.debug("%r: no stream URI for profile %s: %s", self, token, fault.message)
            media_uri = None
        uri = getattr(media_uri, "Uri", None)
        return OnvifProfileInfo(
            token=token,
            name=text(getattr(profile, "Name", None)),
            width=as_int(getattr(resolution, "Width", None)),
            height=as_int(getattr(resolution, "Height", None)),
            fps_limit=as_float(getattr(rate, "FrameRateLimit", None)),
            bitrate_kbps=as_int(getattr(rate, "BitrateLimit", None)),
            codec=text(getattr(encoder, "Encoding", None)) or None,
            gov_length=as_int(gov),
            stream_uri=strip_credentials(text(uri)) if uri else None,
        )

    async def _recordings(self, camera: Any, drift_s: float) -> tuple[float | None, float | None]:
        """Retention days and recording lag from Profile G, or (None, None) without a search service."""
        if SEARCH_NS not in camera.xaddrs:
            return None, None
        search = await camera.create_search_service()
        try:
            summary = await self._call(search.GetRecordingSummary())
        except _zeep_errors.Fault as fault:
            if is_auth_fault(fault):
                raise
            log.debug("%r: GetRecordingSummary refused: %s", self, fault.message)  # e.g. no SD card
            return None, None
        since = utc(getattr(summary, "DataFrom", None))
        until = utc(getattr(summary, "DataUntil", None))
        if since is None or until is None:
            return None, None
        # DataUntil is on the camera's clock, so compare it with the camera's now.
        camera_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=drift_s)
        return (until - since).total_seconds() / 86400, (camera_now - until).total_seconds()

    # --- events -----------------------------------------------------------------------------------

    async def _subscribe(self, camera: Any) -> None:
        self._forget_subscription()
        events = await camera.create_events_service()
        result = await self._call(
            events.CreatePullPointSubscription(
                {"InitialTerminationTime": camera.get_next_termination_time(SUBSCRIPTION)}
            )
        )
        address = getattr(getattr(result.SubscriptionReference, "Address", None), "_value_1", None)
        if not address:
            raise ProtocolError(f"{self!r}: CreatePullPointSubscription returned no address")
        # The library builds per-subscription services from xaddrs, like its PullPointManager does.
        camera.xaddrs[PULLPOINT_NS] = text(address)
        self._pullpoint = await camera.create_pullpoint_service()
        self._manager = await camera.create_subscription_service("PullPointSubscription")
        self._schedule_renewal(result)
        if camera.has_broken_relative_time(SUBSCRIPTION, result.CurrentTime, result.TerminationTime):
            # Some firmware mishandles relative durations; from now on the library gives absolute times.
            await self._renew(camera)
        try:
            # Most cameras send every property's current value on subscribe; some only on request.
            await self._call(self._pullpoint.SetSynchronizationPoint())
        except _zeep_errors.Fault as fault:
            if is_auth_fault(fault):
                raise
            log.debug("%r: SetSynchronizationPoint refused: %s", self, fault.message)

    async def _renew(self, camera: Any) -> None:
        result = await self._call(self._manager.Renew(camera.get_next_termination_time(SUBSCRIPTION)))
        self._schedule_renewal(result)

    def _schedule_renewal(self, result: Any) -> None:
        current = utc(getattr(result, "CurrentTime", None))
        termination = utc(getattr(result, "TerminationTime", None))
        granted = (termination - current).total_seconds() if current and termination else SUBSCRIPTION.total_seconds()
        granted = max(granted, 2.0)
        now = asyncio.get_running_loop().time()
        self._renew_at = now + granted / 2
        self._expires_at = now + granted

    def _forget_subscription(self) -> None:
        self._pullpoint = None
        self._manager = None
        self._renew_at = self._expires_at = 0.0

    def _apply(self, message: Any) -> None:
        topic = text(getattr(getattr(message, "Topic", None), "_value_1", None))
        body = getattr(getattr(message, "Message", None), "_value_1", None)
        data = getattr(body, "Data", None)
        items = {text(i.Name): text(i.Value) for i in getattr(data, "SimpleItem", None) or [] if i is not None}
        change = topic_state(topic, items)
        if change is not None:
            name, value = change
            self._states[name] = value

    # --- plumbing ---------------------------------------------------------------------------------

    async def _call(self, call: Awaitable[T]) -> T:
        """One network round trip under the client's timeout."""
        async with asyncio.timeout(self.timeout_s):
            return await call

    @asynccontextmanager
    async def _boundary(self, operation: str) -> AsyncIterator[None]:
        """Translate the library's exceptions into the agent's hierarchy."""
        where = f"{self.host}:{self.port} {operation}"
        try:
            yield
        except AgentError:
            raise
        except (TimeoutError, _ONVIFTimeoutError) as exc:
            raise DeviceTimeout(f"{where}: no answer within {self.timeout_s:g} s") from exc
        except _zeep_errors.Fault as fault:
            if is_auth_fault(fault):
                raise AuthError(f"{where}: credentials refused for user {self.username!r}") from fault
            raise ProtocolError(f"{where}: SOAP fault {fault.code}: {fault.message}") from fault
        except _zeep_errors.TransportError as exc:
            if exc.status_code in {401, 403}:
                raise AuthError(f"{where}: HTTP {exc.status_code} for user {self.username!r}") from exc
            raise ProtocolError(f"{where}: HTTP {exc.status_code}") from exc
        except aiohttp.ClientConnectionError as exc:  # refused, reset, unresolvable (ClientConnectorError)
            raise Unreachable(f"{where}: {type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise Unreachable(f"{where}: {exc}") from exc
        except (_zeep_errors.Error, _ONVIFError, aiohttp.ClientError, AttributeError, TypeError, ValueError) as exc:
            # The camera answered with something the WSDL or our parsing cannot make sense of.
            raise ProtocolError(f"{where}: unexpected answer: {type(exc).__name__}: {exc}") from exc
