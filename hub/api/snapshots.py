"""Camera snapshots of alarms: the JPEG a camera took when it raised the alarm."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel

from hub.alarm_pictures import pictures_of
from hub.api.deps import PrincipalDep, SessionDep, visible_alarm
from hub.db.models import Snapshot
from hub.snapshots import SnapshotError, Snapshots

router = APIRouter(prefix="/alarms", tags=["alarms"])


@router.get(
    "/{alarm_id}/snapshot",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the JPEG"},
        404: {"description": "no such alarm, or it has no snapshot"},
        410: {"description": "the gateway no longer keeps it and the hub never fetched it"},
        504: {"description": "the gateway did not send it in time (offline?)"},
    },
)
async def alarm_snapshot(alarm_id: str, request: Request, session: SessionDep, who: PrincipalDep) -> Response:
    """The camera snapshot referenced by the alarm; fetched from its gateway the first time."""
    alarm = visible_alarm(session, who, alarm_id)  # another school's alarm is 404
    if not alarm.image_id:
        raise HTTPException(404, f"alarm {alarm_id!r} has no snapshot")
    snapshots: Snapshots = request.app.state.snapshots
    try:
        image = await snapshots.get(alarm.school_id, alarm.gateway_id, alarm.device_id, alarm.image_id)
    except SnapshotError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    headers = {"Cache-Control": "private, max-age=86400"}  # a snapshot never changes
    return Response(image.data, media_type=image.content_type, headers=headers)


class PictureOut(BaseModel):
    """A picture captured beside an alarm: which camera, and when."""

    image_id: str
    device_id: str | None
    taken_at: str | None
    url: str


@router.get("/{alarm_id}/pictures")
def alarm_pictures(alarm_id: str, session: SessionDep, who: PrincipalDep) -> list[PictureOut]:
    """The pictures the linked cameras took when the alarm was raised (none yet, or none linked: [])."""
    alarm = visible_alarm(session, who, alarm_id)
    return [
        PictureOut(**p, url=f"/api/v1/alarms/{alarm_id}/pictures/{p['image_id']}")
        for p in pictures_of(session, alarm.school_id, alarm_id)
    ]


@router.get(
    "/{alarm_id}/pictures/{image_id}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the JPEG"},
        404: {"description": "no such picture"},
    },
)
def alarm_picture(alarm_id: str, image_id: str, session: SessionDep, who: PrincipalDep) -> Response:
    """One picture of the alarm."""
    alarm = visible_alarm(session, who, alarm_id)  # another school's alarm is 404
    row = session.get(Snapshot, (image_id, alarm.school_id))
    if row is None or row.alarm_id != alarm_id:
        raise HTTPException(404, f"alarm {alarm_id!r} has no picture {image_id!r}")
    return Response(row.data, media_type=row.content_type, headers={"Cache-Control": "private, max-age=86400"})
