"""Escalation on the hub's clock, reading only the alarms that are due (both databases)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from hub import ledger
from hub.app import Services, build_services
from hub.db.models import Alarm
from tests.hub.support import hub_settings, unique_prefix

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def services(db_url: str) -> Iterator[Services]:
    svc = build_services(hub_settings("mqtt://127.0.0.1:1", db_url, unique_prefix()))
    yield svc
    svc.sessions.kw["bind"].dispose()


def _alarm(n: int, received: datetime, raised: datetime | None = None) -> Alarm:
    return Alarm(
        id=f"a-{n}",
        school_id="s",
        gateway_id="g",
        device_id=f"d-{n}",
        kind="panic",
        severity="critical",
        latched=True,
        state="raised",
        condition="active",
        raised_at=raised or received,
        received_at=received,
        escalation_level=0,
    )


def _loaded_alarms(session: Session) -> int:
    return sum(1 for obj in session.identity_map.values() if isinstance(obj, Alarm))


def test_a_sweep_reads_only_what_is_due_and_each_level_once(services: Services) -> None:
    with services.sessions.begin() as session:
        session.add_all([_alarm(n, NOW - timedelta(seconds=10)) for n in range(500)])  # not due yet
        session.add_all([_alarm(n, NOW - timedelta(seconds=70)) for n in range(500, 503)])  # one period late
    with services.sessions.begin() as session:
        escalated = ledger.escalate(session, NOW, 60)
        assert sorted(a.id for a in escalated) == ["a-500", "a-501", "a-502"]
        assert _loaded_alarms(session) == 3
    with services.sessions.begin() as session:
        assert ledger.escalate(session, NOW + timedelta(seconds=1), 60) == []
        assert _loaded_alarms(session) == 0  # their next level is not due: not even read
    with services.sessions.begin() as session:
        later = ledger.escalate(session, NOW + timedelta(seconds=51), 60)  # 500 reach level 1, 3 reach 2
        assert len(later) == 503 and {a.escalation_level for a in later} == {1, 2}


def test_a_backdated_alarm_starts_at_level_zero(services: Services) -> None:
    # The device says it happened a day ago (a replayed spool, a wrong clock): nobody has seen it yet.
    with services.sessions.begin() as session:
        session.add(_alarm(1, received=NOW, raised=NOW - timedelta(days=1)))
    with services.sessions.begin() as session:
        assert ledger.escalate(session, NOW + timedelta(seconds=5), 60) == []
        [alarm] = ledger.escalate(session, NOW + timedelta(seconds=61), 60)
        assert alarm.escalation_level == 1
