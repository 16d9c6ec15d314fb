"""Camera snapshots: fetched from the gateway that took them and kept in the hub's database.

A camera alarm names a JPEG kept on its gateway (``Event.image_id``); the gateway keeps it only for
a configured time. The hub asks for it with the ``image`` command and the agent answers on the
image topic. Two triggers: right after an alarm with an image is committed (``committed``, as a
sink of ingest: ``hub.sinks``; so the picture survives the gateway's retention and the console
shows it at once), and on demand when the console asks and the prefetch did not succeed (the
gateway was unreachable then). Every hub stores
what it fetched, so with several hubs the one serving the request can answer from the database.
"""

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import cancel_and_wait
from contract import Command, MessageType, TopicTree
from contract import encode as encode_message
from contract.messages import Image, new_event_id, utc_now
from hub.db.models import Snapshot
from hub.sinks import Committed

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[bool]]
FETCH_TIMEOUT_S = 10.0


class SnapshotError(Exception):
    """A snapshot that cannot be shown; ``status`` is the HTTP answer."""

    status = 504


class SnapshotGone(SnapshotError):
    """The gateway no longer keeps the image and the hub never fetched it."""

    status = 410


@dataclass(frozen=True)
class StoredImage:
    """A snapshot as the API serves it."""

    content_type: str
    data: bytes
    taken_at: datetime | None


class Snapshots:
    """Fetches snapshots from gateways and keeps them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tree: TopicTree,
        publish: Publish,
        *,
        now: Callable[[], datetime] = utc_now,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        self.sessions = sessions
        self.tree = tree
        self.now = now
        self.timeout_s = timeout_s
        self.publish = publish
        self._prefetches: set[asyncio.Task[None]] = set()
        self._waiting: dict[tuple[str, str], asyncio.Future[Image]] = {}
        self._fetches: dict[tuple[str, str], asyncio.Task[StoredImage]] = {}

    def on_image(self, school_id: str, gateway_id: str, image: Image) -> None:
        """An image message arrived (on the event loop): hand it to whoever asked for it."""
        waiter = self._waiting.get((school_id, image.image_id))
        if waiter is not None and not waiter.done():
            waiter.set_result(image)

    async def get(self, school_id: str, gateway_id: str, device_id: str | None, image_id: str) -> StoredImage:
        """The image: from the database, else fetched from the gateway (one fetch per image at a time)."""
        stored = await asyncio.to_thread(self._load, school_id, image_id)
        if stored is not None:
            return stored
        key = (school_id, image_id)
        task = self._fetches.get(key)
        if task is None:
            task = asyncio.create_task(
                self._fetch(school_id, gateway_id, device_id, image_id), name=f"hub:snapshot:{image_id}"
            )
            self._fetches[key] = task
            task.add_done_callback(lambda _t: self._fetches.pop(key, None))
        return await asyncio.shield(task)

    name = "snapshots"

    def committed(self, commit: Committed) -> None:
        """Fetch the snapshot of every alarm raised in this commit that has one (in the background)."""
        for alarm in commit.alarms:
            if alarm.get("image_id") and alarm.get("state") == "raised":
                task = asyncio.create_task(self._prefetch(alarm), name=f"hub:prefetch:{alarm['image_id']}")
                self._prefetches.add(task)
                task.add_done_callback(self._prefetches.discard)

    async def _prefetch(self, alarm: dict[str, object]) -> None:
        school_id, gateway_id, image_id = str(alarm["school_id"]), str(alarm["gateway_id"]), str(alarm["image_id"])
        device_id = alarm.get("device_id")
        try:
            await self.get(school_id, gateway_id, str(device_id) if device_id else None, image_id)
        except SnapshotError as exc:  # the console's request fetches it later
            log.info("snapshot %s of alarm %s not fetched: %s", image_id, alarm.get("id"), exc)
        except Exception:  # the database away, a bug: logged here, since nobody awaits this task
            log.exception("fetching snapshot %s of alarm %s failed", image_id, alarm.get("id"))

    async def close(self) -> None:
        """Stop the fetches under way (the hub is stopping)."""
        tasks = set(self._prefetches) | set(self._fetches.values())
        await cancel_and_wait(*tasks)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _ask(self, school_id: str, gateway_id: str, command: Command) -> Image:
        """Send a command that the gateway answers with an image message, and wait for it."""
        assert command.image_id is not None
        key = (school_id, command.image_id)
        waiter: asyncio.Future[Image] = asyncio.get_running_loop().create_future()
        self._waiting[key] = waiter
        try:
            topic = self.tree.topic(school_id, gateway_id, MessageType.COMMAND)
            if not await self.publish(topic, encode_message(command)):
                raise SnapshotError(f"cannot ask gateway {school_id}/{gateway_id}: the broker is not connected")
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await waiter
            except TimeoutError:
                raise SnapshotError(
                    f"gateway {school_id}/{gateway_id} sent no image {command.image_id} within {self.timeout_s:g} s"
                ) from None
        finally:
            self._waiting.pop(key, None)

    async def _fetch(self, school_id: str, gateway_id: str, device_id: str | None, image_id: str) -> StoredImage:
        command = Command(
            command_id=new_event_id(), ts=self.now(), name="image", device_id=device_id, image_id=image_id
        )
        image = await self._ask(school_id, gateway_id, command)
        return await self._keep(school_id, gateway_id, device_id, image, None)

    async def capture(
        self, school_id: str, gateway_id: str, camera_id: str, image_id: str, alarm_id: str
    ) -> StoredImage:
        """Ask the gateway for a picture from ``camera_id`` now, and keep it as the alarm's."""
        command = Command(
            command_id=new_event_id(), ts=self.now(), name="image", device_id=camera_id, image_id=image_id, capture=True
        )
        image = await self._ask(school_id, gateway_id, command)
        return await self._keep(school_id, gateway_id, camera_id, image, alarm_id)

    async def live_frame(self, school_id: str, gateway_id: str, camera_id: str, image_id: str) -> StoredImage:
        """A picture from ``camera_id`` now, for a live view: not kept (the next one replaces it)."""
        command = Command(
            command_id=new_event_id(), ts=self.now(), name="image", device_id=camera_id, image_id=image_id, capture=True
        )
        image = await self._ask(school_id, gateway_id, command)
        return StoredImage(image.content_type, _jpeg(school_id, gateway_id, image), image.taken)

    async def _keep(
        self, school_id: str, gateway_id: str, device_id: str | None, image: Image, alarm_id: str | None
    ) -> StoredImage:
        image_id = image.image_id
        data = _jpeg(school_id, gateway_id, image)
        row = Snapshot(
            image_id=image_id,
            school_id=school_id,
            gateway_id=gateway_id,
            device_id=device_id if alarm_id else image.device_id or device_id,  # a capture: the camera asked
            taken_at=image.taken,
            fetched_at=self.now(),
            content_type=image.content_type,
            data=data,
            alarm_id=alarm_id,
        )
        await asyncio.to_thread(self._store, row)
        return StoredImage(image.content_type, data, image.taken)

    def _load(self, school_id: str, image_id: str) -> StoredImage | None:
        with self.sessions() as session:
            row = session.get(Snapshot, (image_id, school_id))
            return None if row is None else StoredImage(row.content_type, row.data, row.taken_at)

    def _store(self, row: Snapshot) -> None:
        try:
            with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            pass  # another hub (or an earlier fetch) stored it first: same image


def _jpeg(school_id: str, gateway_id: str, image: Image) -> bytes:
    """The JPEG an image message carries; SnapshotGone when it has none, SnapshotError when it is not one."""
    if image.data_b64 is None:
        raise SnapshotGone(f"gateway {school_id}/{gateway_id} has no image {image.image_id}")
    try:
        data = base64.b64decode(image.data_b64, validate=True)
    except binascii.Error:
        raise SnapshotError(f"gateway {school_id}/{gateway_id} sent image {image.image_id} in broken base64") from None
    if not data.startswith(b"\xff\xd8"):
        raise SnapshotError(f"gateway {school_id}/{gateway_id} sent image {image.image_id} that is not a JPEG")
    return data
