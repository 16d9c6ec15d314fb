"""Pictures the hub asks for when a security alarm is raised (an ``image`` command with ``capture``, 1.3).

The hub names the camera and the image id; the camera decodes one frame now and keeps it in the
snapshot store under that id, and the agent publishes it on the image topic (or, when no picture
came, an image message without data, so the hub stops waiting). Captures run as tasks of their own,
never in a poll loop: a camera that hangs delays no alarm.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from contract import Command

log = logging.getLogger(__name__)
MAX_AT_ONCE = 8  # captures under way; more are answered at once without a picture


@runtime_checkable
class Camera(Protocol):
    """A driver that can take a picture now (the camera driver)."""

    async def capture(self, image_id: str) -> bool: ...


class Captures:
    """Runs the hub's capture commands and hands each result to ``send``."""

    def __init__(self, cameras: Callable[[str], Camera | None], send: Callable[[str], None]) -> None:
        self.cameras, self.send = cameras, send
        self.tasks: set[asyncio.Task[None]] = set()
        self.taken = self.failed = 0

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
            if await camera.capture(image_id):
                self.taken += 1
            else:
                self.failed += 1
        except Exception as exc:  # noqa: BLE001 - a camera library's error: this picture is lost, the agent is not
            log.warning("%s: capture %s failed: %s", device_id, image_id, exc)
            self.failed += 1
        self.send(image_id)

    async def close(self) -> None:
        """Cancel the captures under way (the agent stops)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
