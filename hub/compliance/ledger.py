"""Record findings as they change: a verdict that changes ends its row and begins a new one.

A finding keeps its ``since`` while its status holds (its evidence may be refreshed); a failure's
deadline is its ``since`` plus its rule's ``repair_within_h``. A finding no longer made (a rule no
longer selected, a device no longer declared) is ended. Rows are never deleted: the ledger is the
history a past day is shown from.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compliance.judge import Judged
from hub.compliance.models import FindingRow

Key = tuple[str, str, str]  # school, rule, subject


@dataclass(frozen=True)
class Recorded:
    """What one pass changed."""

    begun: int  # findings that appeared or changed status
    ended: int  # findings whose rows were closed (changed or gone)


def open_rows(session: Session, schools: Iterable[str]) -> dict[Key, FindingRow]:
    """The findings now open (``until`` unset) of these schools, by key."""
    wanted, out = list(schools), dict[Key, FindingRow]()
    for start in range(0, len(wanted), 500):
        query = select(FindingRow).where(
            FindingRow.school_id.in_(wanted[start : start + 500]), FindingRow.until.is_(None)
        )
        for row in session.scalars(query):
            out[(row.school_id, row.rule_id, row.subject)] = row
    return out


def record(session: Session, judged: Mapping[str, Judged], now: datetime) -> Recorded:
    """Bring the ledger of the judged schools up to their findings now (in the caller's transaction)."""
    rows = open_rows(session, judged)
    begun = ended = 0
    seen: set[Key] = set()
    for school, j in judged.items():
        repair = {r.id: r.repair_within_h for r in j.rules}
        for f in j.findings:
            key = (school, f.rule_id, f.subject)
            seen.add(key)
            row = rows.get(key)
            missing = "\n".join(f.missing)
            if row is not None and row.status == f.status.value:
                if row.evidence != f.evidence or row.missing != missing:
                    row.evidence, row.missing = f.evidence, missing
                continue
            if row is not None:
                row.until = now
                ended += 1
            hours = repair.get(f.rule_id)
            deadline = now + timedelta(hours=hours) if f.status.value == "fail" and hours else None
            session.add(
                FindingRow(
                    school_id=school, rule_id=f.rule_id, subject=f.subject, status=f.status.value,
                    evidence=f.evidence, missing=missing, since=now, until=None, deadline=deadline,
                )
            )  # fmt: skip
            begun += 1
    for key, row in rows.items():
        if key not in seen:
            row.until = now
            ended += 1
    return Recorded(begun, ended)


def as_of(session: Session, schools: Iterable[str], at: datetime) -> list[FindingRow]:
    """The findings as they stood at ``at`` (begun by then, not yet ended), of these schools."""
    wanted, out = list(schools), list[FindingRow]()
    for start in range(0, len(wanted), 500):
        query = select(FindingRow).where(
            FindingRow.school_id.in_(wanted[start : start + 500]),
            FindingRow.since <= at,
            (FindingRow.until.is_(None)) | (FindingRow.until > at),
        )
        out += session.scalars(query.order_by(FindingRow.school_id, FindingRow.rule_id, FindingRow.subject))
    return out
