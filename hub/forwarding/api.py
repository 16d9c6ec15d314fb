"""Forwarding over HTTP: delivery state inside alarm responses, and every attempt of one alarm."""

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.deps import PrincipalDep, SessionDep, visible_alarm
from hub.api.schemas import AlarmOut, Page
from hub.forwarding.models import Attempt, OutboxRow
from hub.forwarding.schemas import AttemptOut, DeliveryOut

router = APIRouter(prefix="/alarms", tags=["forwarding"])


def with_forwarding(session: Session, alarms: list[AlarmOut]) -> list[AlarmOut]:
    """The alarms with their ``forwarding`` field filled from the outbox."""
    ids = [a.id for a in alarms]
    found: dict[str, list[DeliveryOut]] = {}
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(OutboxRow).where(OutboxRow.alarm_id.in_(ids[start : start + 500])).order_by(OutboxRow.id)
        )
        for row in rows:
            found.setdefault(row.alarm_id, []).append(DeliveryOut.model_validate(row))
    return [a.model_copy(update={"forwarding": found.get(a.id, [])}) for a in alarms]


@router.get("/{alarm_id}/forwarding")
def forwarding_attempts(alarm_id: str, session: SessionDep, who: PrincipalDep) -> Page[AttemptOut]:
    """Every delivery attempt of one alarm (of a school in the caller's scope), oldest first."""
    visible_alarm(session, who, alarm_id)
    rows = session.execute(
        select(Attempt, OutboxRow.route, OutboxRow.restore)
        .join(OutboxRow, OutboxRow.id == Attempt.outbox_id)
        .where(OutboxRow.alarm_id == alarm_id)
        .order_by(Attempt.id)
    ).all()
    items = [
        AttemptOut(
            id=a.id,
            route=route,
            restore=restore,
            receiver=a.receiver,
            hub=a.hub,
            started_at=a.started_at,
            finished_at=a.finished_at,
            result=a.result,
            detail=a.detail,
            seq=a.seq,
            rtt_ms=a.rtt_ms,
        )
        for a, route, restore in rows
    ]
    return Page(items=items, total=len(items))
