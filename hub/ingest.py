"""Ingest: validate every message, apply it to the current state, store batches, then ack.

Two lanes, each a queue with a loop of its own: **alarms** (alarm events) and **telemetry**
(everything else). Each loop takes what the MQTT readers queued, applies it in arrival order,
commits the batch in a worker thread, and only after the commit acks the events and announces
changes. An alarm therefore never waits for a telemetry batch to be applied, only (on SQLite) for
the one telemetry transaction being written, which ``ingest.batch_budget_s`` and ``CHANGES_MAX``
keep short. The two lanes' transactions touch different things but may meet on a device row; they
are ordered by the gateway's ``seq`` (``hub.ledger``), never by arrival. The watchdog and the
escalation sweep run in the telemetry loop, between batches (``_sweep`` says in which hub).

No message can hold up another. One that breaks the contract, or that the state cannot take, becomes
a dead letter at once (``hub.deadletters``). A batch the database refuses for its content is split
in halves until the message at fault stands alone; it becomes a dead letter and the rest commits.
Only a failure of the database itself (connection, lock) is retried as a whole, with backoff, and
``/healthz`` says so once queued messages wait longer than ``ingest.stuck_after_s``. The loop is
supervised: an unexpected error is logged with its traceback and the loop goes on.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from campusguard.backoff import backoff_s
from contract import Ack, Birth, Command, ContractError, Event, MessageType, Presence, Snapshot, TopicTree
from contract import encode as encode_message
from contract.messages import MAX_ACK_IDS, Image, new_event_id, utc_now
from hub.batch import Batch
from hub.deadletters import DeadLetter, DeadLetters
from hub.decoding import decode_payload
from hub.domain.state import HubState, UnknownDevice, spool_condition
from hub.lanes import AlarmsFirst, Inbound, Lane
from hub.ledger import SPOOL_FAILURE
from hub.metrics import Metrics
from hub.reconcile import ActiveAlarms
from hub.rejects import RejectLog, source_of
from hub.settings import HubSettings
from hub.sinks import Committed, Sink, notify
from hub.store import Outcome, Store
from hub.writer import TRANSIENT, BatchWriter

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 60.0  # forgetting old live-stream changes is housekeeping, not a per-batch job
CHANGES_MAX = 2_000  # changes + inventory rows per transaction: about 0.1 s of commit on SQLite here
Publish = Callable[[str, bytes], Awaitable[bool]]
MAX_POISON_IDS = 10_000
INBOUND = frozenset({MessageType.PRESENCE, MessageType.BIRTH, MessageType.STATUS, MessageType.EVENT, MessageType.IMAGE})
HELD_ONLY = INBOUND - {MessageType.BIRTH, MessageType.IMAGE}  # births are noted by every hub, images go to the asker


class Ingest:
    """From raw MQTT messages to committed state, then acks and the sinks (``hub.sinks``)."""

    def __init__(
        self,
        settings: HubSettings,
        state: HubState,
        store: Store,
        metrics: Metrics,
        *,
        sinks: Sequence[Sink] = (),
        publish: Publish | None = None,
        on_image: Callable[[str, str, Image], None] | None = None,
        now: Callable[[], datetime] = utc_now,
        is_leader: Callable[[], bool] = lambda: True,
        active_alarms: ActiveAlarms | None = None,
    ) -> None:
        self.settings = settings
        self.is_leader = is_leader
        self.active_alarms = active_alarms or ActiveAlarms()
        self.state = state
        self.store = store
        self.sinks = tuple(sinks)
        # Heartbeats are kept for a batch only if a sink asks: kept, they outlive the young GC generations.
        self._heartbeats = any(getattr(sink, "heartbeats", False) for sink in self.sinks)
        self.publish = publish  # acks and rebirth commands; None: nothing is sent (tests of the store)
        self.on_image = on_image  # a camera image someone asked for (hub.snapshots)
        self.metrics = metrics
        self.now = now
        self.tree = TopicTree(settings.mqtt.topic_prefix)
        self.rejects = RejectLog()
        self.dead_letters = DeadLetters()
        self._poison: set[str] = set()  # event ids already dead-lettered: a resend skips the bisect
        self.writer = BatchWriter(store, metrics, now, self._refused)
        # (school, gateway) allowed to speak; None: open enrolment (any gateway). Read again every
        # gateways.refresh_s, so `campusguard gateway add` takes effect without a restart.
        self.registered: frozenset[tuple[str, str]] | None = None
        self.holds: Callable[[str, str], bool] | None = None  # cluster.partitions: whether this hub holds a gateway
        self.not_held, self._next_last_seen = 0, 0.0  # not_held: other hubs' gateways' messages, dropped unread
        self._next_registry = 0.0
        # Alarm events have a lane of their own: a wave of snapshots never delays a press.
        self.alarms = Lane("alarms", asyncio.Queue(settings.ingest.queue_max))
        self.telemetry = Lane("telemetry", asyncio.Queue(settings.ingest.queue_max))
        self._next_sweep = 0.0
        self._next_prune = 0.0
        self._behind_until = 0.0  # the watchdog waits until then (``_behind``)
        self._gate = AlarmsFirst()
        metrics.labelled["rejects_total"] = lambda: dict(self.rejects.by_reason)
        metrics.gauges["ingest_queue_depth"] = lambda: float(self.depth())

    # --- validation (the MQTT reader calls this) ---------------------------------------------

    def parse(self, topic: str, payload: bytes) -> Inbound | None:
        """Validate a message; count and log a reject and return None when it breaks the contract."""
        try:
            where = self.tree.parse(topic)
            if where.message_type not in INBOUND:
                return None  # our own acks and commands, if a broker echoes them
            holds = self.holds
            if holds is not None and where.message_type in HELD_ONLY and not holds(where.school_id, where.gateway_id):
                self.not_held += 1  # another hub's gateway (hub.partitions): dropped by its topic, not decoded
                return None
            message = decode_payload(where.message_type, payload)
        except ContractError as exc:
            self._reject(topic, payload, exc.reason, str(exc))
            return None
        except Exception as exc:  # a decoder bug must not stop the reader: the message is kept, not lost
            log.exception("decoding a message on %s failed", topic[:300])
            self._reject(topic, payload, "internal", f"{type(exc).__name__}: {exc}")
            return None
        if self.registered is not None and (where.school_id, where.gateway_id) not in self.registered:
            self._reject(topic, payload, "unregistered", f"{where.school_id}/{where.gateway_id} is not registered")
            return None
        self.metrics.messages[where.message_type.value] += 1
        return Inbound(where.school_id, where.gateway_id, where.message_type, message, topic, payload)

    def _reject(self, topic: str, payload: bytes, reason: str, detail: str) -> None:
        now, source = self.now(), source_of(topic, self.tree.prefix)
        self.rejects.reject(source, reason, detail, now)
        self.dead_letters.add(DeadLetter(now, source, topic, "decode", reason, detail, payload))

    async def feed(self, topic: str, payload: bytes) -> None:
        """Validate and queue one message (waits when the queue is full: backpressure)."""
        item = self.parse(topic, payload)
        if item is None:
            return
        if isinstance(item.message, Image):  # an answer to a request, not state: straight to the asker
            if self.on_image is not None:
                self.on_image(item.school_id, item.gateway_id, item.message)
            return
        await self._lane_of(item).put(item)

    def _lane_of(self, item: Inbound) -> Lane:
        """Alarm events go to the alarms lane, everything else to telemetry."""
        return self.alarms if isinstance(item.message, Event) and item.message.is_alarm else self.telemetry

    def depth(self) -> int:
        """Messages waiting to be applied."""
        return self.alarms.queue.qsize() + self.telemetry.queue.qsize()

    # --- the processing task ------------------------------------------------------------------

    async def run(self) -> None:
        """Process both lanes' batches forever. Supervised."""
        async with asyncio.TaskGroup() as group:
            for lane in (self.alarms, self.telemetry):
                group.create_task(self._loop(lane), name=f"ingest-{lane.name}")

    async def _loop(self, lane: Lane) -> None:
        check_s = self.settings.liveness.check_every_s
        failures = 0
        while True:
            await self._refresh_registry()
            first = await lane.take(check_s)
            items = [first] if first is not None else []
            try:
                await self._process(items, lane)
            except Exception:  # the supervisor boundary: one bad turn must not end ingest for every school
                self.metrics.ingest_restarts += 1
                log.exception("ingest (%s) failed on a batch of %d messages; going on", lane.name, len(items))
                await asyncio.sleep(backoff_s(failures, 0.2, 5.0))
                failures += 1
            else:
                failures = 0
                lane.progress = time.monotonic()

    async def close(self) -> None:
        """After ``run`` was cancelled: wait for a batch still being written."""
        await self.writer.close()

    async def _refresh_registry(self) -> None:
        if self.registered is None or time.monotonic() < self._next_registry:
            return
        self._next_registry = time.monotonic() + self.settings.gateways.refresh_s
        try:
            self.registered = await asyncio.to_thread(self.store.registered_gateways)
        except TRANSIENT as exc:  # keep the last known registry while the database is away
            log.warning("reading the gateway registry failed: %s", exc)

    def health(self) -> dict[str, object]:
        """Ingest's part of /healthz: queue, last commit, and whether queued messages are stuck."""
        lanes = (self.alarms, self.telemetry)
        waited = max((time.monotonic() - lane.progress for lane in lanes if not lane.queue.empty()), default=0.0)
        stuck = waited > self.settings.ingest.stuck_after_s
        return {
            "ok": not stuck,
            "queue_depth": self.depth(),
            "waiting_s": round(waited, 3),
            "last_commit": self.writer.last_commit.isoformat() if self.writer.last_commit else None,
            "database_failing_since": (self.writer.failing_since.isoformat() if self.writer.failing_since else None),
            "dead_letters": sum(self.dead_letters.by_stage.values()),
        }

    async def _process(self, items: list[Inbound], lane: Lane | None = None) -> None:
        """Apply ``items`` and, if there were any, what else ``lane`` holds, up to a batch; commit; ack.

        The lane defaults to the first item's. The telemetry lane's turn ends with the sweep.
        """
        lane = lane or (self._lane_of(items[0]) if items else self.telemetry)
        now = self.now()
        batch = Batch(offline_alarms=self.settings.alarms.device_offline_alarm)
        for item in items:
            self._apply_one(item, now, batch)
        # A batch ends at batch_max messages, CHANGES_MAX rows or batch_budget_s of applying: a mass
        # recovery (every device of every gateway changing at once) or a flood of snapshots then
        # commits in steps, and an alarm queued behind it waits for one step, not for the whole
        # wave.
        taken, limits = len(items), self.settings.ingest
        deadline = time.monotonic() + limits.batch_budget_s
        while taken and taken < limits.batch_max and len(batch.changes) + len(batch.inventory) < CHANGES_MAX:
            queued = lane.take_nowait()
            if queued is None:
                break
            self._apply_one(queued, now, batch)
            taken += 1
            if time.monotonic() >= deadline:
                break
        batch.dead_letters = self.dead_letters.take()
        if batch:
            await self._after_commit(batch, await self._commit(batch, now, lane), now)
        elif batch.snapshots:  # heartbeats that change nothing: no transaction, but the sinks take their metrics
            self.announce(Committed(now, snapshots=tuple(batch.snapshots)))
        for school_id, gateway_id in sorted(batch.rebirths):
            await self.rebirth(school_id, gateway_id, now)
        if lane is self.telemetry:
            await self._sweep(now)

    async def _sweep(self, now: datetime) -> None:
        """The watchdog, escalation and pruning, in a transaction of their own after the messages'.
        Escalation and pruning are the sweep leader's (``hub.leader``), and so is the watchdog of a lone
        hub; with several (``share_group``) each watches the gateways whose heartbeats it receives."""
        leader, several, shared = self.is_leader(), self.settings.several_hubs, bool(self.settings.mqtt.share_group)
        if time.monotonic() < self._next_sweep or not (leader or several):
            return
        self._next_sweep = time.monotonic() + self.settings.liveness.check_every_s
        sweep = Batch(offline_alarms=self.settings.alarms.device_offline_alarm)
        if self._behind():
            self.metrics.watchdog_deferred += 1
        else:
            sweep.changes += self.state.check(now, heard_only=shared, held=self.holds)
        if self.holds is not None and time.monotonic() >= self._next_last_seen:
            self._next_last_seen = time.monotonic() + self.settings.cluster.last_seen_every_s
            sweep.last_seen, sweep.device_summaries = self.state.shared_last_seen(self.holds)
        if leader:
            self.metrics.sweeps += 1
            sweep.escalate_after_s = self.settings.alarms.escalate_after_s
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + PRUNE_EVERY_S
                sweep.prune_live_before = now - timedelta(seconds=self.settings.api.sse_keep_s)
        await self._after_commit(sweep, await self._commit(sweep, now, self.telemetry), now)

    async def _commit(self, batch: Batch, now: datetime, lane: Lane) -> Outcome:
        """Write a batch; a telemetry transaction does not begin while an alarm's waits to be written.

        SQLite has one writer and its busy handler is not fair: telemetry committing back to back
        kept a waiting alarm out for 8 s in bench/alarm_latency. With this gate an alarm waits for
        at most the one telemetry transaction already under way.
        """
        if lane is self.alarms:
            async with self._gate.alarm():
                return await self.writer.commit(batch, now)
        await self._gate.telemetry()
        return await self.writer.commit(batch, now)

    def _behind(self) -> bool:
        """Whether ingest is, or lately was, behind its load: the watchdog must not judge then.

        A gateway's snapshots waiting in a full queue, or at the broker behind a paused reader, are
        not silence: judging them would take healthy gateways offline and every one of their
        devices with them, and those writes would put the hub further behind (measured: 317,000
        false transitions in a minute beside 50,000 updates/s). After the queue was half full the
        watchdog waits one heartbeat window (``heartbeat_misses`` × the default interval), time for
        what waited to be applied; a gateway that really fell silent meanwhile is caught after it.
        """
        if self.telemetry.queue.qsize() >= self.settings.ingest.queue_max // 2:
            liveness = self.settings.liveness
            self._behind_until = time.monotonic() + liveness.heartbeat_misses * liveness.default_snapshot_interval_s
        return time.monotonic() < self._behind_until

    def _apply_one(self, item: Inbound, now: datetime, batch: Batch) -> None:
        """Apply one message; one the state cannot take becomes a dead letter and the others go on."""
        if isinstance(item.message, Event) and item.message.event_id in self._poison:
            self.metrics.poison_skipped += 1  # a resend of a dead letter: not again through the store
            return
        if self.holds is not None and not self.holds(item.school_id, item.gateway_id):  # moved while queued
            if isinstance(item.message, Birth):
                self.state.note_members(item.school_id, item.gateway_id, item.message)
            return
        source = f"{item.school_id}/{item.gateway_id}"
        try:
            self._apply(item, now, batch)
        except UnknownDevice as exc:  # expected of a misconfigured or hostile gateway: counted, no traceback
            # Not remembered as poison: a later birth may list the device, and then the agent's
            # resend is stored. Checking again costs no database work.
            self.rejects.reject(source, "unknown_device", str(exc), now)
            self._dead(source, (item.topic, item.raw), "apply", exc, now)
        except Exception as exc:  # the boundary around untrusted input: keep it, go on
            log.exception("applying a message from %s failed", source)
            self._dead(source, (item.topic, item.raw), "apply", exc, now)
            if isinstance(item.message, Event):
                self._remember_poison(item.message.event_id)
                batch.events.pop(item.message.event_id, None)

    def _dead(self, source: str, message: tuple[str, bytes], stage: str, exc: BaseException, now: datetime) -> None:
        """Keep a message (topic, payload) that failed at ``stage`` as a dead letter."""
        topic, raw = message
        detail = f"{type(exc).__name__}: {exc}"
        self.dead_letters.add(DeadLetter(now, source, topic, stage, type(exc).__name__, detail, raw))

    def _remember_poison(self, event_id: str) -> None:
        if len(self._poison) >= MAX_POISON_IDS:
            self._poison.clear()
        self._poison.add(event_id)

    def _apply(self, item: Inbound, now: datetime, batch: Batch) -> None:
        s, g, message = item.school_id, item.gateway_id, item.message
        if isinstance(message, Presence):
            batch.changes += self.state.on_presence(s, g, message.state, now)
        elif isinstance(message, Birth):
            batch.changes += self.state.on_birth(s, g, message, now)
            batch.inventory += [(s, g, info) for info in message.devices]
            batch.agent_versions[(s, g)] = message.agent_version or ""
        elif isinstance(message, Snapshot):
            changes, gap, received = self.state.on_snapshot(s, g, message, now)
            self.metrics.device_updates += len(message.devices)
            batch.changes += changes
            batch.snapshots += (received,) if self._heartbeats else ()
            batch.reconcile += self.active_alarms.unlisted(s, message)
            failing = message.spool is not None and message.spool.error is not None
            if spool_condition(self.state.gateway(s, g, now), failing):
                batch.gateway_alarms.append((s, g, SPOOL_FAILURE, failing, now))
            if gap or not self.state.knows(s, g):
                batch.rebirths.add((s, g))
        elif isinstance(message, Event):
            if self.registered is not None:
                self.state.check_member(s, g, message.device_id)
            batch.changes += self.state.on_event(s, g, message, now)
            batch.events[message.event_id] = (s, g, message)
            batch.raw[message.event_id] = (item.topic, item.raw)
            if not self.state.knows(s, g):
                batch.rebirths.add((s, g))

    def _refused(self, batch: Batch, exc: BaseException, now: datetime) -> None:
        """The one part of a batch the database would not take: a dead letter, not tried again."""
        source, topic, raw, event_id = batch.describe()
        log.error(
            "the database refused a message from %s (%s: %s); kept as a dead letter", source, type(exc).__name__, exc
        )
        self._dead(source, (topic, raw), "store", exc, now)
        if event_id is not None:
            self._remember_poison(event_id)

    def announce(self, commit: Committed) -> None:
        """After a commit, ingest's own or another writer's (a person acknowledging): tell the sinks."""
        for alarm in commit.alarms:
            self.active_alarms.note(alarm)
        notify(self.sinks, commit)

    async def _after_commit(self, batch: Batch, outcome: Outcome, now: datetime) -> None:
        self.metrics.events_stored += outcome.stored
        self.metrics.events_duplicate += outcome.duplicates
        # The sinks first: the forwarder's wake-up must not wait for the acks' PUBACKs.
        self.announce(
            Committed(now, tuple(outcome.changes), tuple(outcome.alarms), outcome.forwarded, tuple(batch.snapshots))
        )
        for (school_id, gateway_id), ids in outcome.acks.items():
            topic = self.tree.topic(school_id, gateway_id, MessageType.ACK)
            for start in range(0, len(ids), MAX_ACK_IDS):
                ack = Ack(ts=now, event_ids=ids[start : start + MAX_ACK_IDS])
                if self.publish is not None and await self.publish(topic, encode_message(ack)):
                    self.metrics.acks_published += 1

    async def rebirth(self, school_id: str, gateway_id: str, now: datetime) -> None:
        """Ask a gateway for its birth (at most every ``rebirth_min_interval_s``)."""
        gw = self.state.gateway(school_id, gateway_id, now)
        wait = self.settings.liveness.rebirth_min_interval_s
        if gw.last_rebirth is not None and (now - gw.last_rebirth).total_seconds() < wait:
            return
        gw.last_rebirth = now
        command = Command(command_id=new_event_id(), ts=now, name="rebirth")
        topic = self.tree.topic(school_id, gateway_id, MessageType.COMMAND)
        if self.publish is not None and await self.publish(topic, encode_message(command)):
            self.metrics.rebirths_requested += 1
            log.info("requested a rebirth from %s/%s", school_id, gateway_id)
