"""Who was told of an alarm, on which channel, at which escalation level, and what became of it."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from hub.api.deps import PrincipalDep, SessionDep, visible_alarm
from hub.notify.models import NotificationRow

router = APIRouter(tags=["alarms"])


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule: str
    channel: str
    level: int
    state: str  # sending | sent | failed | quiet
    attempts: int
    created_at: datetime
    done_at: datetime | None
    detail: str | None


@router.get("/alarms/{alarm_id}/notifications")
def alarm_notifications(alarm_id: str, session: SessionDep, who: PrincipalDep) -> list[NotificationOut]:
    """Every notification of the alarm, oldest first."""
    visible_alarm(session, who, alarm_id)
    rows = session.scalars(
        select(NotificationRow).where(NotificationRow.alarm_id == alarm_id).order_by(NotificationRow.id)
    )
    return [NotificationOut.model_validate(r) for r in rows]
