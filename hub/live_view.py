"""A camera's live view in the console, relayed by the hub: a picture a second from the agent.

The console asks for the camera's current frame about once a second while the view is open; the
hub asks the gateway for a picture now (an ``image`` command with ``capture`` and a ``live.*`` id,
which the agent keeps only in memory) and hands it back. However many guards watch, a camera is
asked at most once per ``MIN_INTERVAL_S`` and one capture at a time: viewers share the frame. No
video crosses the hub, and the gateway's uplink carries one JPEG a second per watched camera.
"""

import asyncio
import time
from collections.abc import Callable
from itertools import count

from hub.snapshots import Snapshots, StoredImage

MIN_INTERVAL_S = 1.0


class LiveView:
    """Current frames of watched cameras, shared by their viewers."""

    def __init__(self, snapshots: Snapshots, clock: Callable[[], float] = time.monotonic) -> None:
        self.snapshots, self.clock = snapshots, clock
        self._last: dict[tuple[str, str], tuple[float, StoredImage]] = {}
        self._asking: dict[tuple[str, str], asyncio.Task[StoredImage]] = {}
        self._ids = count(1)

    async def frame(self, school_id: str, gateway_id: str, camera_id: str) -> StoredImage:
        """The camera's frame of the last second, asking the gateway for a new one if it is older."""
        key = (school_id, camera_id)
        last = self._last.get(key)
        if last is not None and self.clock() - last[0] < MIN_INTERVAL_S:
            return last[1]
        task = self._asking.get(key)
        if task is None:
            task = asyncio.create_task(self._capture(key, gateway_id), name=f"hub:live:{camera_id}")
            self._asking[key] = task
            task.add_done_callback(lambda _t: self._asking.pop(key, None))
        return await asyncio.shield(task)

    async def _capture(self, key: tuple[str, str], gateway_id: str) -> StoredImage:
        school_id, camera_id = key
        image_id = f"live.{next(self._ids)}.{int(time.time())}"
        image = await self.snapshots.live_frame(school_id, gateway_id, camera_id, image_id)
        self._last[key] = (self.clock(), image)
        return image
