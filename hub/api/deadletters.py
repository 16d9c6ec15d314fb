"""Dead letters for IT: messages the hub could not take, newest first, of the schools in scope."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from hub.api.deps import PrincipalDep, SessionDep
from hub.api.schemas import DeadLetterOut, Page
from hub.auth.principal import DEAD_LETTER_READERS
from hub.db.models import DeadLetterRow

router = APIRouter(tags=["dead letters"])


@router.get("/dead-letters", responses={403: {"description": "guards and viewers do not see raw payloads"}})
def list_dead_letters(
    *,
    session: SessionDep,
    who: PrincipalDep,
    stage: Annotated[str | None, Query(max_length=16)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[DeadLetterOut]:
    """What was refused, when, why, and the payload (capped); those without a school only city-wide."""
    if who.role not in DEAD_LETTER_READERS:
        raise HTTPException(403, f"a {who.role} may not read dead letters")
    # Every school in scope: no filter, so letters without a school show too; else IN (...) leaves them out.
    query = select(DeadLetterRow).where(who.scope.clause(DeadLetterRow.school_id))
    if stage:
        query = query.where(DeadLetterRow.stage == stage)
    if since is not None:
        query = query.where(DeadLetterRow.received_at >= since)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(DeadLetterRow.id.desc()).limit(limit).offset(offset)).all()
    return Page(items=[DeadLetterOut.model_validate(r) for r in rows], total=total)
