"""The notifier: a sink that tells people of alarms at the escalation levels their rules name.

On each commit it looks at the alarms created or changed: an open alarm at escalation level L matches
every rule with ``level`` ≤ L (and its kinds and schools). Each (alarm, rule, channel) is claimed once
in the database (a unique row), so a second hub or a restart never sends it twice, then sent with up
to ``attempts`` tries; the row records sent, failed (with why) or quiet (inside the rule's quiet
hours). A row a dead hub left ``sending`` is sent again when a notifier starts: at least once. A
message costs ingest one queue append: sending runs in the notifier's own task.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub.db.models import Alarm
from hub.notify.channels import SendFailed, send
from hub.notify.models import NotificationRow
from hub.notify.settings import NotificationSettings, NotifyRule
from hub.report.labels import KINDS
from hub.sinks import Committed
from hub.store import alarm_dict

log = logging.getLogger(__name__)
Describe = Callable[[str, str], tuple[str, str]]  # (school, device) -> (kind, location)
STATES = {"raised": "未确认", "acknowledged": "已确认", "resolved": "已处置"}
QUEUE_MAX = 10_000
SLOTS = 8  # alarms being notified at once


def in_quiet_hours(spec: str | None, local: datetime) -> bool:
    """Whether a local time falls in "HH:MM-HH:MM" (which may run past midnight)."""
    if not spec:
        return False
    start, end = (time.fromisoformat(part) for part in spec.split("-"))
    now = local.time()
    return start <= now < end if start <= end else now >= start or now < end


def matches(rule: NotifyRule, alarm: dict[str, Any]) -> bool:
    return (
        alarm.get("state") != "resolved"
        and int(alarm.get("escalation_level") or 0) >= rule.level
        and (rule.kinds is None or alarm.get("kind") in rule.kinds)
        and (rule.schools is None or alarm.get("school_id") in rule.schools)
    )


class Notifier:
    """A ``hub.sinks.Sink`` with a task of its own (``run``)."""

    name = "notifications"

    def __init__(
        self,
        settings: NotificationSettings,
        sessions: sessionmaker[Session],
        *,
        tz_of: Callable[[str], ZoneInfo],
        school_name: Callable[[str], str],
        describe: Describe,
        now: Callable[[], datetime],
    ) -> None:
        self.settings, self.sessions = settings, sessions
        self.tz_of, self.school_name, self.describe, self.now = tz_of, school_name, describe, now
        self._queue: deque[dict[str, Any]] = deque(maxlen=QUEUE_MAX)
        self._wake = asyncio.Event()
        self.sent = self.failed = self.dropped = 0
        self._slots = asyncio.Semaphore(SLOTS)

    def committed(self, commit: Committed) -> None:
        for alarm in commit.alarms:
            if any(matches(rule, alarm) for rule in self.settings.rules):
                if len(self._queue) == QUEUE_MAX:
                    self.dropped += 1  # the oldest goes: the board still shows every alarm
                self._queue.append(alarm)
                self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        # One task group for the notifier's life: a message waiting on a slow channel holds up no
        # later one (at most SLOTS alarms at once); at stop, what is under way finishes.
        async with httpx.AsyncClient() as client, asyncio.TaskGroup() as group:
            for row_id, alarm, channel in await asyncio.to_thread(self._unfinished):
                group.create_task(self._finish(client, row_id, alarm, channel))
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
                self._wake.clear()
                while self._queue and not stop.is_set():
                    await self._slots.acquire()
                    group.create_task(self._handle_in_slot(client, self._queue.popleft()))

    async def _finish(self, client: httpx.AsyncClient, row_id: int, alarm: dict[str, Any], channel: str) -> None:
        title, text = self.message(alarm)
        state, detail, tries = await self._deliver(client, channel, title, text)
        await asyncio.to_thread(self._record, row_id, state, f"after a restart: {detail}", tries)

    async def _handle_in_slot(self, client: httpx.AsyncClient, alarm: dict[str, Any]) -> None:
        try:
            await self._handle(client, alarm)
        except Exception:  # a bug in one message must not stop the others
            log.exception("notifying of alarm %s failed", alarm.get("id"))
        finally:
            self._slots.release()

    async def _handle(self, client: httpx.AsyncClient, alarm: dict[str, Any]) -> None:
        title, text = self.message(alarm)
        local = self.now().astimezone(self.tz_of(str(alarm.get("school_id"))))
        sends = []
        for rule in self.settings.rules:
            if not matches(rule, alarm):
                continue
            quiet = in_quiet_hours(rule.quiet_hours, local)
            for name in rule.channels:
                row = await asyncio.to_thread(self._claim, alarm, rule, name, "quiet" if quiet else "sending")
                if row is not None and not quiet:
                    sends.append(self._send_and_record(client, row, name, title, text))
        await asyncio.gather(*sends)  # every channel at once: a failing one does not delay the others

    async def _send_and_record(self, client: httpx.AsyncClient, row: int, name: str, title: str, text: str) -> None:
        state, detail, tries = await self._deliver(client, name, title, text)
        await asyncio.to_thread(self._record, row, state, detail, tries)

    async def _deliver(self, client: httpx.AsyncClient, name: str, title: str, text: str) -> tuple[str, str, int]:
        detail = ""
        for attempt in range(1, self.settings.attempts + 1):
            try:
                detail = await send(client, self.settings.channels[name], title, text)
                self.sent += 1
                return "sent", detail, attempt
            except SendFailed as exc:
                detail = str(exc)
                log.warning("notification on %s failed (try %d): %s", name, attempt, detail)
                await asyncio.sleep(min(2 ** (attempt - 1), 10))
        self.failed += 1
        return "failed", detail, self.settings.attempts

    def _claim(self, alarm: dict[str, Any], rule: NotifyRule, channel: str, state: str) -> int | None:
        """The new row's id, or None if this alarm, rule and channel were claimed before."""
        with self.sessions() as session:
            exists = session.scalar(
                select(NotificationRow.id).where(
                    NotificationRow.alarm_id == alarm["id"], NotificationRow.rule == rule.name,
                    NotificationRow.channel == channel,
                )
            )  # fmt: skip
            if exists is not None:
                return None
            row = NotificationRow(
                alarm_id=alarm["id"], school_id=str(alarm.get("school_id")), rule=rule.name, channel=channel,
                level=int(alarm.get("escalation_level") or 0), state=state, attempts=0, created_at=self.now(),
                done_at=self.now() if state == "quiet" else None, detail="quiet hours" if state == "quiet" else None,
            )  # fmt: skip
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another hub claimed it first
                return None
            return row.id

    def _unfinished(self) -> list[tuple[int, dict[str, Any], str]]:
        """Notifications a hub claimed and died before finishing (``sending`` for over a minute): sent
        again, since a panic's escalation told twice is better than not told. Channels since removed
        from hub.yaml are recorded failed."""
        found = []
        with self.sessions() as session:
            rows = session.scalars(
                select(NotificationRow).where(
                    NotificationRow.state == "sending", NotificationRow.created_at < self.now() - timedelta(minutes=1)
                )
            ).all()
            for row in rows:
                alarm = session.get(Alarm, row.alarm_id)
                if alarm is None or row.channel not in self.settings.channels:
                    row.state, row.detail, row.done_at = "failed", "channel or alarm gone after a restart", self.now()
                    continue
                found.append((row.id, alarm_dict(alarm), row.channel))
            session.commit()
        return found

    def _record(self, row_id: int, state: str, detail: str, attempts: int) -> None:
        with self.sessions() as session:
            row = session.get(NotificationRow, row_id)
            if row is not None:
                row.state, row.detail, row.attempts, row.done_at = state, detail[:2000], attempts, self.now()
                session.commit()

    def gauges(self) -> dict[str, Callable[[], float]]:
        """For the hub's /metrics."""
        return {
            "notifications_sent": lambda: float(self.sent),
            "notifications_failed": lambda: float(self.failed),
            "notifications_dropped": lambda: float(self.dropped),
            "notifications_waiting": lambda: float(len(self._queue)),
        }

    def message(self, alarm: dict[str, Any]) -> tuple[str, str]:
        """The title and text, in Chinese (the guards' and bureaus' language)."""
        school = str(alarm.get("school_id"))
        device = str(alarm.get("device_id") or "")
        location = self.describe(school, device)[1] if device else ""
        kind = KINDS.get(str(alarm.get("kind")), (str(alarm.get("kind")), ""))[0]
        level = int(alarm.get("escalation_level") or 0)
        raised = datetime.fromisoformat(str(alarm.get("raised_at"))).astimezone(self.tz_of(school))
        title = f"【{kind}】{self.school_name(school)} {location}".strip()
        lines = [
            f"级别：{'已升级 ' + str(level) + ' 次' if level else '新报警'}",
            f"学校：{self.school_name(school)}",
            f"设备：{device} {location}".strip(),
            f"时间：{raised:%Y-%m-%d %H:%M:%S}",
            f"状态：{STATES.get(str(alarm.get('state')), str(alarm.get('state')))}",
        ]
        if self.settings.console_url:
            lines.append(f"{self.settings.console_url.rstrip('/')}/#/alarm/{alarm['id']}")
        return title, "\n".join(lines)
