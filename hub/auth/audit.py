"""The audit log of people's actions: who, when, from where, on what, and the outcome.

Logins (ok, failed, locked), logouts, acknowledgements and resolutions (refused ones too), account and
token changes. Rows about an alarm carry its school, so a district admin reads only their schools'.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.auth.models import AuditEvent


def record(
    db: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    outcome: str = "ok",
    school_id: str | None = None,
    client_ip: str | None = None,
    **detail: Any,
) -> None:
    """Append one row in the caller's transaction."""
    db.add(
        AuditEvent(
            at=at,
            actor=actor[:64],
            action=action,
            target=target[:200],
            school_id=school_id,
            client_ip=client_ip,
            outcome=outcome,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )
