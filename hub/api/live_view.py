"""A camera's live view, relayed by the hub: its current frame as a JPEG (``hub.live_view``)."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from hub.api.deps import PrincipalDep, ServicesDep
from hub.live_view import LiveView
from hub.snapshots import SnapshotError

router = APIRouter(tags=["cameras"])


@router.get(
    "/schools/{school_id}/devices/{device_id}/live.jpg",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the camera's frame of the last second"},
        404: {"description": "no such camera in your scope"},
        410: {"description": "the camera gave no picture"},
        504: {"description": "the gateway did not answer in time (offline?)"},
    },
)
async def live_frame(school_id: str, device_id: str, request: Request, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Poll it about once a second for a live view; viewers of one camera share its frames."""
    device = svc.ingest.state.devices.get((school_id, device_id))
    if not who.scope.allows(school_id) or device is None or device.kind != "camera":
        raise HTTPException(404, f"no camera {device_id!r} in school {school_id!r} in your scope")
    view: LiveView = request.app.state.live_view
    try:
        frame = await view.frame(school_id, device.gateway_id, device_id)
    except SnapshotError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    headers = {"Cache-Control": "no-store"}
    if frame.taken_at is not None:
        headers["X-Taken-At"] = frame.taken_at.isoformat()
    return Response(frame.data, media_type=frame.content_type, headers=headers)
