"""The forwarding worker: one lane per route delivers its outbox rows in order, with failover.

A lane claims its route's oldest pending row, tries the preferred receiver
``attempts_per_receiver`` times, then the other, and records every attempt; an ACK marks the row
delivered, a failed round backs off (doubling up to ``retry.max_s``) and tries again, forever.
After a failover the backup stays preferred for ``failback_after_s``. DC-09 receivers also get
NULL supervision; a receiver that stops answering raises a ``communication_trouble`` alarm in the
ledger (device = receiver name), cleared at its first ACK again.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import cancel_and_wait
from contract.messages import utc_now
from hub import ledger, live
from hub.forwarding.dc09 import Dc09Link
from hub.forwarding.errors import DeliveryError
from hub.forwarding.outbox import Outbound, Outbox
from hub.forwarding.sender import Dc09Sender, Sender
from hub.forwarding.settings import Dc09Receiver, ForwardingSettings, Route, WebhookReceiver
from hub.forwarding.webhook import WebhookSender
from hub.live import Broadcaster
from hub.sinks import Committed

log = logging.getLogger(__name__)

HUB_SCHOOL, HUB_GATEWAY = "hub", "forwarding"  # where a receiver's communication trouble is filed


class Forwarder:
    """Lanes per route, senders per receiver, the outbox they share."""

    def __init__(
        self,
        settings: ForwardingSettings,
        sessions: sessionmaker[Session],
        *,
        broadcaster: Broadcaster | None = None,
        now: Callable[[], datetime] = utc_now,
        senders: dict[str, Sender] | None = None,
        hub_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.broadcaster = broadcaster
        self.now = now
        self.outbox = Outbox(settings, sessions, hub_id or f"hub-{uuid.uuid4().hex[:12]}")
        self.senders: dict[str, Sender] = senders if senders is not None else self._build_senders()
        self._wakes = {route.name: asyncio.Event() for route in settings.routes}
        self._preferred: dict[str, tuple[int, float]] = {}
        self._announcing: set[asyncio.Task[None]] = set()  # live forwarding changes being written

    def _build_senders(self) -> dict[str, Sender]:
        senders: dict[str, Sender] = {}
        for name, receiver in self.settings.receivers.items():
            if isinstance(receiver, Dc09Receiver):
                senders[name] = Dc09Sender(name, Dc09Link(name, receiver, clock=self.now, on_trouble=self.trouble))
            elif isinstance(receiver, WebhookReceiver):
                senders[name] = WebhookSender(name, receiver, clock=self.now)
        return senders

    name = "forwarding"

    def committed(self, commit: Committed) -> None:
        """A sink of ingest (``hub.sinks``): outbox rows were committed, so every lane looks now."""
        if commit.forwarded:
            self.wake_all()

    def wake_all(self) -> None:
        """New rows were committed (called on the event loop)."""
        for event in self._wakes.values():
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then close every connection."""
        if not self.settings.enabled:
            await stop.wait()
            return
        await asyncio.to_thread(self.outbox.recover)
        tasks = [asyncio.create_task(self._lane(r), name=f"forward:{r.name}") for r in self.settings.routes]
        used = {name for r in self.settings.routes for name in r.receivers}
        tasks += [
            asyncio.create_task(self.senders[n].supervise(), name=f"forward:supervise:{n}")
            for n in sorted(used)
            if n in self.senders
        ]
        try:
            await stop.wait()
        finally:
            await cancel_and_wait(*tasks)
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*self._announcing, return_exceptions=True)  # short writes: let them land
            for sender in self.senders.values():
                await sender.close()

    async def _lane(self, route: Route) -> None:
        wake, poll_s = self._wakes[route.name], self.settings.worker.poll_s
        while True:
            wake.clear()  # before the claim: a commit during it wakes the wait below at once
            try:
                message, wait_s = await asyncio.to_thread(self.outbox.claim, route.name, self.now())
                if message is not None:
                    await self._deliver(route, message)
                    continue
            except Exception:  # the supervisor boundary: a database hiccup must not end the lane
                log.exception("forwarding lane %s failed; going on", route.name)
                wait_s = 1.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait_s if wait_s is not None else poll_s, poll_s)):
                    await wake.wait()

    def _order(self, route: Route) -> list[str]:
        names = route.receivers
        index, since = self._preferred.get(route.name, (0, 0.0))
        if index and time.monotonic() - since < self.settings.retry.failback_after_s:
            return names[index:] + names[:index]
        return names

    async def _deliver(self, route: Route, message: Outbound) -> None:
        errors: list[str] = []
        for name in self._order(route):
            sender = self.senders[name]
            for _ in range(self.settings.retry.attempts_per_receiver):
                attempt_id = await asyncio.to_thread(self.outbox.start_attempt, message.outbox_id, name, self.now())
                try:
                    delivery = await sender.deliver(message)
                except DeliveryError as exc:
                    errors.append(f"{name}: {exc.result}")
                    await asyncio.to_thread(
                        self.outbox.finish_attempt, attempt_id, self.now(), result=exc.result, detail=str(exc)[:2000]
                    )
                    continue
                await asyncio.to_thread(
                    self.outbox.finish_attempt,
                    attempt_id,
                    self.now(),
                    result="ack",
                    detail=delivery.detail,
                    seq=delivery.seq,
                    rtt_s=delivery.rtt_s,
                    delivered_to=name,
                )
                self._preferred[route.name] = (route.receivers.index(name), time.monotonic())
                self._announce(message, "delivered", delivered_to=name)
                return
        delay = await asyncio.to_thread(self.outbox.retry_later, message.outbox_id, self.now(), "; ".join(errors))
        log.warning(
            "route %s: alarm %s not delivered (%s); again in %.1f s", route.name, message.alarm_id, errors, delay
        )
        self._announce(message, "pending", error="; ".join(errors)[:500], retry_in_s=round(delay, 1))

    def _announce(self, message: Outbound, state: str, **detail: object) -> None:
        """Tell the consoles where the alarm stands with the receivers (a live ``forwarding`` change),
        in a task of its own: the lane goes on to its next alarm without waiting for this write."""
        if self.broadcaster is None:
            return
        task = asyncio.create_task(self._write_announcement(message, state, detail), name="forward:announce")
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def _write_announcement(self, message: Outbound, state: str, detail: dict[str, object]) -> None:
        assert self.broadcaster is not None
        data = {
            "school_id": message.school_id, "alarm_id": message.alarm_id, "route": message.route,
            "restore": message.restore, "state": state, "at": self.now().isoformat(), **detail,
        }  # fmt: skip
        try:
            events = await asyncio.to_thread(self._record, data)
        except Exception:  # the database away: the console still sees it on its next reload
            log.exception("could not announce the forwarding of alarm %s", message.alarm_id)
            return
        for event in events:
            self.broadcaster.publish(event)

    def _record(self, data: dict[str, object]) -> list[live.LiveEvent]:
        with self.sessions.begin() as session:
            return live.record(session, [("forwarding", data)], self.now())

    async def trouble(self, receiver: str, active: bool, detail: str) -> None:
        """Raise or clear the receiver's communication trouble alarm in the ledger."""
        events, forwarded = await asyncio.to_thread(self._write_trouble, receiver, active, self.now())
        if forwarded:
            self.wake_all()
        if self.broadcaster is not None:
            for event in events:
                self.broadcaster.publish(event)

    def _write_trouble(self, receiver: str, active: bool, now: datetime) -> tuple[list[live.LiveEvent], int]:
        from hub.store import alarm_dict  # the store imports this package for its hook

        with self.sessions.begin() as session:
            alarm = ledger.apply_condition(
                session,
                school_id=HUB_SCHOOL,
                gateway_id=HUB_GATEWAY,
                device_id=receiver,
                kind="communication_trouble",
                active=active,
                at=now,
                severity="critical",
            )
            if alarm is None:
                return [], 0
            session.flush()
            data = alarm_dict(alarm)
            forwarded = self.outbox.enqueue(session, [data], now)
            return live.record(session, [("alarm", data)], now), forwarded
