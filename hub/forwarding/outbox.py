"""The durable outbox: rows written with their alarms, claimed one route head at a time, attempts kept.

Synchronous (SQLAlchemy sessions); the worker calls it in a thread. Claiming takes the oldest
pending row of a route only, so a route delivers in order; on PostgreSQL the head row is locked
with ``FOR UPDATE SKIP LOCKED`` while it is claimed, so of several hubs exactly one sends it, and
the claim is a lease that a crashed hub's successor takes over when it expires.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from campusguard.backoff import backoff_s
from hub.forwarding.codes import code_for
from hub.forwarding.models import Attempt, DeviceNumber, OutboxRow
from hub.forwarding.settings import ForwardingSettings

log = logging.getLogger(__name__)

PENDING, DELIVERED, UNROUTABLE = "pending", "delivered", "unroutable"


@dataclass(frozen=True, slots=True)
class Outbound:
    """What a sender needs to deliver one outbox row."""

    outbox_id: int
    alarm_id: str
    route: str
    kind: str
    restore: bool
    school_id: str
    device_id: str | None
    account: str
    area: int
    zone: int
    cid: int
    sia: str
    event_at: datetime

    @classmethod
    def of(cls, row: OutboxRow) -> "Outbound":
        """From a claimed row."""
        return cls(
            row.id,
            row.alarm_id,
            row.route,
            row.kind,
            row.restore,
            row.school_id,
            row.device_id,
            row.account or "",
            row.area,
            row.zone,
            row.cid,
            row.sia,
            row.event_at,
        )


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class Outbox:
    """Enqueue (the store's hook), claim, and record attempts."""

    def __init__(self, settings: ForwardingSettings, sessions: sessionmaker[Session], hub_id: str) -> None:
        self.settings = settings
        self.sessions = sessions
        self.hub_id = hub_id

    # --- the hook: in the alarm's transaction ---------------------------------------------------

    def enqueue(self, session: Session, alarms: list[dict[str, Any]], now: datetime) -> int:
        """Add outbox rows for alarms (as ``alarm_dict``) that take a route; in the caller's transaction."""
        added = 0
        for alarm in alarms:
            # Every alarm's raise is sent, also one that arrives already ended (a press counted by
            # the device between two polls, or a late replay): a press must reach the police.
            stages = (False, True) if alarm["condition"] != "active" else (False,)
            for route in self.settings.routes_for(alarm["school_id"], alarm["kind"]):
                for restore in stages:
                    if restore and not route.restores:
                        continue
                    if self._exists(session, alarm["id"], route.name, restore):
                        continue  # escalations and replays change the alarm, not what was forwarded
                    session.add(self._row(session, alarm, route.name, restore, now))
                    added += 1
        return added  # the caller tells the forwarder after its commit (``Forwarder.committed``)

    @staticmethod
    def _exists(session: Session, alarm_id: str, route: str, restore: bool) -> bool:
        query = select(OutboxRow.id).where(
            OutboxRow.alarm_id == alarm_id, OutboxRow.route == route, OutboxRow.restore == restore
        )
        return session.scalar(query) is not None

    def _row(self, session: Session, alarm: dict[str, Any], route: str, restore: bool, now: datetime) -> OutboxRow:
        code = code_for(alarm["kind"])
        assert code is not None  # routes only take kinds with codes
        school = self.settings.schools.get(alarm["school_id"])
        device_id = alarm.get("device_id")
        event_at = (alarm.get("cleared_at") or alarm.get("reset_at")) if restore else alarm["raised_at"]
        row = OutboxRow(
            alarm_id=alarm["id"],
            route=route,
            restore=restore,
            kind=alarm["kind"],
            school_id=alarm["school_id"],
            device_id=device_id,
            account=school.account if school else None,
            area=(school.areas.get(device_id or "", school.area) if school else 1),
            zone=self.zone(session, alarm["school_id"], device_id, alarm.get("zone")),
            cid=code.cid,
            sia=code.sia(restore),
            event_at=_when(event_at or now),
            created_at=now,
            state=PENDING if school else UNROUTABLE,
            attempts=0,
            rounds=0,
            next_attempt_at=now,
            last_error=None if school else f"no account for school {alarm['school_id']!r} in forwarding.schools",
        )
        if school is None:
            log.error("alarm %s (%s) cannot be forwarded: %s", alarm["id"], alarm["kind"], row.last_error)
        return row

    def zone(self, session: Session, school_id: str, device_id: str | None, alarm_zone: int | None = None) -> int:
        """The zone the receiver sees: one per device, and one per zone of a zoned device (a fence zone).

        ``forwarding.schools[].zones`` maps ``device`` or ``device:zone`` to a number; anything
        unmapped gets the lowest free number of its school on first use, kept for good. 0 is the
        hub or gateway itself, and the fallback when all 999 numbers are taken (logged).
        """
        if device_id is None:
            return 0
        key = device_id if alarm_zone is None else f"{device_id}:{alarm_zone}"
        school = self.settings.schools.get(school_id)
        if school is not None and key in school.zones:
            return school.zones[key]
        found = session.get(DeviceNumber, (school_id, key))
        if found is not None:
            return found.number
        taken = set(session.scalars(select(DeviceNumber.number).where(DeviceNumber.school_id == school_id)))
        taken |= set(school.zones.values()) if school else set()
        number = next((n for n in range(1, 1000) if n not in taken), 0)
        if number == 0:
            log.error("school %s: all 999 zone numbers are taken; %s is sent as zone 0", school_id, key)
            return 0
        session.add(DeviceNumber(school_id=school_id, device_id=key, number=number))
        session.flush()
        return number

    # --- the worker's side ----------------------------------------------------------------------

    def claim(self, route: str, now: datetime) -> tuple[Outbound | None, float | None]:
        """Claim the route's oldest pending row if it is due; else (None, seconds until it is, if known)."""
        lease = timedelta(seconds=self.settings.worker.lease_s)
        with self.sessions.begin() as session:
            head = select(func.min(OutboxRow.id)).where(OutboxRow.route == route, OutboxRow.state == PENDING)
            head_id = session.scalar(head)
            if head_id is None:
                return None, None
            row = session.scalars(
                select(OutboxRow).where(OutboxRow.id == head_id).with_for_update(skip_locked=True)
            ).first()
            if row is None or row.state != PENDING:
                return None, 0.05  # another hub is claiming it this instant
            if row.claimed_until is not None and row.claimed_until > now and row.claimed_by != self.hub_id:
                return None, (row.claimed_until - now).total_seconds()
            if row.next_attempt_at > now:
                return None, (row.next_attempt_at - now).total_seconds()
            session.execute(  # attempts a crashed hub left open
                update(Attempt)
                .where(Attempt.outbox_id == row.id, Attempt.finished_at.is_(None))
                .values(finished_at=now, result="interrupted")
            )
            row.claimed_by, row.claimed_until = self.hub_id, now + lease
            return Outbound.of(row), None

    def start_attempt(self, outbox_id: int, receiver: str, now: datetime) -> int:
        """Record that an attempt starts (and renew the claim); return its id."""
        with self.sessions.begin() as session:
            attempt = Attempt(outbox_id=outbox_id, receiver=receiver, hub=self.hub_id, started_at=now)
            session.add(attempt)
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id)
                .values(
                    attempts=OutboxRow.attempts + 1,
                    claimed_until=now + timedelta(seconds=self.settings.worker.lease_s),
                )
            )
            session.flush()
            return attempt.id

    def finish_attempt(
        self,
        attempt_id: int,
        now: datetime,
        *,
        result: str,
        detail: str | None = None,
        seq: int | None = None,
        rtt_s: float | None = None,
        delivered_to: str | None = None,
    ) -> None:
        """Record an attempt's outcome; with ``delivered_to`` (an ACK) the row counts as forwarded."""
        with self.sessions.begin() as session:
            session.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id)
                .values(
                    finished_at=now,
                    result=result,
                    detail=detail,
                    seq=seq,
                    rtt_ms=None if rtt_s is None else round(rtt_s * 1000, 3),
                )
            )
            if delivered_to is None:
                return
            outbox_id = session.scalar(select(Attempt.outbox_id).where(Attempt.id == attempt_id))
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id)
                .values(
                    state=DELIVERED,
                    delivered_at=now,
                    delivered_to=delivered_to,
                    claimed_by=None,
                    claimed_until=None,
                    last_error=None,
                )
            )

    def retry_later(self, outbox_id: int, now: datetime, error: str) -> float:
        """A whole round failed: back off (doubling, capped) and release the claim; return the delay."""
        retry = self.settings.retry
        with self.sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None:
                return retry.initial_s
            delay = backoff_s(row.rounds, retry.initial_s, retry.max_s, jitter=0.1)
            row.rounds += 1
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.claimed_by, row.claimed_until, row.last_error = None, None, error[:2000]
            return delay

    def release(self, outbox_id: int) -> None:
        """Give a claimed row back (shutdown)."""
        with self.sessions.begin() as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id, OutboxRow.claimed_by == self.hub_id)
                .values(claimed_by=None, claimed_until=None)
            )

    def recover(self) -> None:
        """At start: claims this hub's previous process held are void at once.

        The hub id is stable across restarts (the hub's MQTT client id, unique per hub), so a
        restarted hub frees its own claims instead of waiting for their lease; on SQLite (one hub
        per file) every claim is its own. Other hubs' claims on PostgreSQL expire with their lease.
        """
        with self.sessions.begin() as session:
            held: ColumnElement[bool] = OutboxRow.claimed_by.is_not(None)
            if session.get_bind().dialect.name != "sqlite":
                held = OutboxRow.claimed_by == self.hub_id
            session.execute(update(OutboxRow).where(held).values(claimed_by=None, claimed_until=None))
