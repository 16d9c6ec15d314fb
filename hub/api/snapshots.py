"""Camera snapshots of alarms: the JPEG a camera took when it raised the alarm."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from hub.api.deps import PrincipalDep, SessionDep, visible_alarm
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
