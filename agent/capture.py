"""Pictures the hub asks for (an ``image`` command with ``capture``, 1.3): beside a security alarm, or
a live view's next frame.

The hub names the camera and the image id; the camera decodes one frame now, the agent keeps it
(on disk in the snapshot store; a live frame, ``live.*``, only in memory, the last few) and
publishes it on the image topic (or, when no picture came, an image message without data, so the
hub stops waiting). Captures run as tasks of their own, never in a poll loop: a camera that hangs
delays no alarm.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from contract import Command

log = logging.getLogger(__name__)
MAX_AT_ONCE = 8  # captures under way; more are answered at once without a picture
LIVE_PREFIX = "live."  # a live view's frame: kept in memory for its answer, never written to disk
LIVE_KEPT = 16
Keep = Callable[[str, bytes, datetime, str], object]  # (camera, jpeg, taken, image id): the snapshot store


@runtime_checkable
class Camera(Protocol):
    """A driver that can take a picture now (the camera driver)."""

    async def picture(self) -> bytes | None: ...


class Captures:
    """Runs the hub's capture commands and hands each result to ``send``."""

    def __init__(self, cameras: Callable[[str], Camera | None], send: Callable[[str], None], keep: Keep | None) -> None:
        self.cameras, self.send, self.keep = cameras, send, keep
        self.tasks: set[asyncio.Task[None]] = set()
        self.live: OrderedDict[str, tuple[bytes, datetime]] = OrderedDict()
        self.taken = self.failed = 0

    def recent(self, image_id: str) -> tuple[bytes, datetime] | None:
        """A live frame taken lately (for its image message), or None."""
        return self.live.get(image_id)

    def start(self, command: Command) -> None:
        """Begin a capture (on the event loop); answered later through ``send``."""
        image_id, device_id = command.image_id or "", command.device_id or ""  # the contract requires both
        camera = self.cameras(device_id)
        if camera is None or len(self.tasks) >= MAX_AT_ONCE:
            why = "not a camera of this gateway" if camera is None else "too many captures under way"
            log.warning("capture %s from %s refused: %s", image_id, device_id, why)
            self.failed += 1
            self.send(image_id)  # an image without data: the hub stops waiting
            return
        task = asyncio.create_task(self._run(camera, device_id, image_id), name="capture")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, camera: Camera, device_id: str, image_id: str) -> None:
        try:
            jpeg = await camera.picture()
            if jpeg is None:
                self.failed += 1
            else:
                await self._keep(device_id, jpeg, image_id)
                self.taken += 1
        except Exception as exc:  # noqa: BLE001 - a camera library's error: this picture is lost, the agent is not
            log.warning("%s: capture %s failed: %s", device_id, image_id, exc)
            self.failed += 1
        self.send(image_id)

    async def _keep(self, device_id: str, jpeg: bytes, image_id: str) -> None:
        taken = datetime.now(UTC)
        if image_id.startswith(LIVE_PREFIX):
            self.live[image_id] = (jpeg, taken)
            while len(self.live) > LIVE_KEPT:
                self.live.popitem(last=False)
        elif self.keep is not None:
            await asyncio.to_thread(self.keep, device_id, jpeg, taken, image_id)

    async def close(self) -> None:
        """Cancel the captures under way (the agent stops)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
