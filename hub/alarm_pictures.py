"""Pictures beside security alarms: when a panic, intrusion or forced-door alarm is raised, a picture
from each camera linked to the device (its agent's ``cameras``), within seconds; and the camera's own
picture beside a problem an officer reported on video patrol.

A sink of ingest's pipeline (``hub.sinks``): after the alarm's commit it asks the gateway for a
picture from each linked camera now (the ``capture`` command), keeps each one as the alarm's
(``snapshots.alarm_id``) and tells the open consoles (a live ``alarm_image`` change), so the guard
sees the gate while deciding what to do. Nothing here delays the alarm or its forwarding: the
captures run after the commit, in tasks of their own, and one that fails is logged and skipped.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import cancel_and_wait
from hub import live
from hub.db.models import Snapshot
from hub.domain.state import HubState
from hub.sinks import Committed
from hub.snapshots import SnapshotError, Snapshots

log = logging.getLogger(__name__)

PICTURE_KINDS = frozenset({"panic", "intrusion", "door_forced"})
OWN_PICTURE_KINDS = frozenset({"patrol_problem"})  # the camera itself: what the patrolling officer saw
FRESH_S = 60.0  # an alarm the hub received longer ago (an escalation after a restart) gets none
REMEMBERED = 10_000  # alarms already pictured, so an escalation does not picture them again


def picture_id(alarm_id: str, n: int) -> str:
    """The id of the n-th linked camera's picture of an alarm (short, and unique per alarm and camera)."""
    return f"a{alarm_id.replace('-', '')[:32]}.{n}"


class AlarmPictures:
    """Captures pictures from the cameras linked to a device when it raises a security alarm."""

    name = "alarm_pictures"

    def __init__(
        self,
        snapshots: Snapshots,
        state: HubState,
        sessions: sessionmaker[Session],
        broadcaster: live.Broadcaster,
        now: Callable[[], datetime],
    ) -> None:
        self.snapshots, self.state, self.sessions = snapshots, state, sessions
        self.broadcaster, self.now = broadcaster, now
        self._done: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def committed(self, commit: Committed) -> None:
        """Start the captures for the security alarms newly raised in this commit."""
        for alarm in commit.alarms:
            cameras = self._cameras(alarm, commit.at)
            if not cameras:
                continue
            self._done[str(alarm["id"])] = None
            if len(self._done) > REMEMBERED:
                self._done.popitem(last=False)
            for n, camera in enumerate(cameras):
                task = asyncio.create_task(self._capture(alarm, n, camera), name=f"hub:picture:{alarm['id']}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _cameras(self, alarm: dict[str, Any], at: datetime) -> tuple[str, ...]:
        kind = alarm.get("kind")
        if kind not in PICTURE_KINDS | OWN_PICTURE_KINDS or alarm.get("state") != "raised" or alarm["id"] in self._done:
            return ()
        received = datetime.fromisoformat(str(alarm["received_at"]))
        if (at - received).total_seconds() > FRESH_S or not alarm.get("device_id"):
            return ()
        device = self.state.devices.get((str(alarm["school_id"]), str(alarm["device_id"])))
        if device is None:
            return ()
        if kind in OWN_PICTURE_KINDS:
            return (device.id,) if device.kind == "camera" else ()
        return device.cameras

    async def _capture(self, alarm: dict[str, Any], n: int, camera: str) -> None:
        school, alarm_id = str(alarm["school_id"]), str(alarm["id"])
        gateway = self.state.devices.get((school, camera))
        gateway_id = gateway.gateway_id if gateway else str(alarm["gateway_id"])
        image_id = picture_id(alarm_id, n)
        try:
            image = await self.snapshots.capture(school, gateway_id, camera, image_id, alarm_id)
        except SnapshotError as exc:
            log.info("no picture from %s for alarm %s: %s", camera, alarm_id, exc)
            return
        except Exception:  # the database away, a bug: logged here, since nobody awaits this task
            log.exception("picture from %s for alarm %s failed", camera, alarm_id)
            return
        data = {
            "school_id": school, "alarm_id": alarm_id, "image_id": image_id, "device_id": camera,
            "taken_at": image.taken_at.isoformat() if image.taken_at else None,
        }  # fmt: skip
        for event in await asyncio.to_thread(self._record, data):
            self.broadcaster.publish(event)

    def _record(self, data: dict[str, Any]) -> list[live.LiveEvent]:
        with self.sessions.begin() as session:
            return live.record(session, [("alarm_image", data)], self.now())

    async def close(self) -> None:
        """Stop the captures under way (the hub is stopping)."""
        await cancel_and_wait(*self._tasks)


def pictures_of(session: Session, school_id: str, alarm_id: str) -> list[dict[str, Any]]:
    """The pictures kept for an alarm (without their bytes), in camera order."""
    query = select(Snapshot.image_id, Snapshot.device_id, Snapshot.taken_at).where(
        Snapshot.school_id == school_id, Snapshot.alarm_id == alarm_id
    )
    return [
        {"image_id": image_id, "device_id": device_id, "taken_at": taken_at.isoformat() if taken_at else None}
        for image_id, device_id, taken_at in session.execute(query.order_by(Snapshot.image_id))
    ]
