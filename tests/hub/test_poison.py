"""A poison message never blocks others: every family of bad message, on SQLite and PostgreSQL.

Each poison arrives between two real alarms of another school in one batch. The real alarms are
stored and acked in that batch, the poison is kept as a dead letter with its reason, and it never
makes a batch fail twice (a resend is skipped, not bisected again).
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from contract import Ack, Event, MessageType, TopicTree, decode
from contract.messages import MAX_SEQ, new_event_id
from hub.app import Services, build_services
from hub.batch import Batch
from hub.db.models import Alarm, DeadLetterRow
from hub.ingest import Ingest
from hub.lanes import Inbound
from hub.store import Outcome
from tests.hub.support import hub_settings, unique_prefix

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def event(**patch: Any) -> dict[str, Any]:
    """A valid panic event as JSON data, with fields replaced."""
    data = {
        "schema_version": "1.2",
        "event_id": new_event_id(),
        "seq": 1,
        "device_id": "panic-1",
        "ts": "2026-11-27T08:00:00+00:00",
        "type": "alarm.raised",
        "alarm_type": "panic",
        "severity": "critical",
        "latched": True,
    }
    return {**data, **patch}


def status(**patch: Any) -> dict[str, Any]:
    """A valid snapshot as JSON data, with fields replaced."""
    device = {"device_id": "panic-1", "availability": "online", "since": "2026-11-27T08:00:00+00:00"}
    data = {"schema_version": "1.2", "ts": "2026-11-27T08:00:00+00:00", "seq": 0, "interval_s": 30, "devices": [device]}
    return {**data, **patch}


def raw(data: dict[str, Any], **literals: str) -> bytes:
    """JSON with some values replaced by literal text (NaN, Infinity, huge numbers)."""
    text = json.dumps(data)
    for key, literal in literals.items():
        text = text.replace(f'"{key}": "@"', f'"{key}": {literal}')
    return text.encode()


# (message type, payload): each family the attacker with a gateway's credentials tried, and neighbours.
POISONS: dict[str, tuple[MessageType, bytes]] = {
    "seq 2^63": (MessageType.EVENT, raw(event(seq="@"), seq=str(2**63))),
    "seq 10^30": (MessageType.EVENT, raw(event(seq="@"), seq=str(10**30))),
    "seq 0": (MessageType.EVENT, raw(event(seq=0))),
    "ts year 1 +14:00": (MessageType.EVENT, raw(event(ts="0001-01-01T00:00:00+14:00"))),
    "ts 9999 -14:00": (MessageType.EVENT, raw(event(ts="9999-12-31T23:59:59-14:00"))),
    "ts year 1900": (MessageType.EVENT, raw(event(ts="1900-01-01T00:00:00+00:00"))),
    "value NaN": (MessageType.EVENT, raw(event(value="@"), value="NaN")),
    "value Infinity": (MessageType.EVENT, raw(event(value="@"), value="Infinity")),
    "value -Infinity": (MessageType.EVENT, raw(event(value="@"), value="-Infinity")),
    "value 1e400": (MessageType.EVENT, raw(event(value="@"), value="1e400")),
    "value 2^64": (MessageType.EVENT, raw(event(value="@"), value=str(2**64))),
    "value 1 MB": (MessageType.EVENT, raw(event(value="x" * 1_000_000))),
    "alarm_type 201 chars": (MessageType.EVENT, raw(event(alarm_type="x" * 201))),
    "deep JSON": (MessageType.EVENT, b"[" * 100_000 + b"]" * 100_000),
    "not UTF-8": (MessageType.EVENT, b"\xff\xfe\x00{"),
    "interval 1e12": (MessageType.STATUS, raw(status(interval_s=1e12))),
    "interval Infinity": (MessageType.STATUS, raw(status(interval_s="@"), interval_s="Infinity")),
    "interval NaN": (MessageType.STATUS, raw(status(interval_s="@"), interval_s="NaN")),
    "metric 2^64": (MessageType.STATUS, raw(status(devices=[{**status()["devices"][0], "metrics": {"m": 2**64}}]))),
    "snapshot seq 2^63": (MessageType.STATUS, raw(status(seq="@"), seq=str(2**63))),
    "since year 1": (
        MessageType.STATUS,
        raw(status(devices=[{**status()["devices"][0], "since": "0001-01-01T00:00:00+14:00"}])),
    ),
    "NUL in reason": (
        MessageType.STATUS,
        raw(status(devices=[{**status()["devices"][0], "availability": "degraded", "reason": "a\u0000b"}])),
    ),
    "NUL in value": (MessageType.EVENT, raw(event(value="a\u0000b", type="alarm.raised"))),
}


class Harness:
    """Ingest with its real store, no broker: acks are captured as the broker would carry them."""

    def __init__(self, db_url: str) -> None:
        self.prefix = unique_prefix()
        self.tree = TopicTree(self.prefix)
        self.services: Services = build_services(hub_settings("mqtt://127.0.0.1:1", db_url, self.prefix))
        self.ingest: Ingest = self.services.ingest
        self.acked: dict[str, list[str]] = {}

        async def publish(topic: str, payload: bytes) -> bool:
            if topic.endswith("/ack"):
                self.acked.setdefault(topic.split("/")[-2], []).extend(decode(MessageType.ACK, payload, Ack).event_ids)
            return True

        self.ingest.publish = publish

    def item(self, gateway: str, message_type: MessageType, payload: bytes) -> Inbound | None:
        """Parse as the MQTT reader does (a reject is a dead letter already)."""
        school = "school-a" if gateway == "gw-a" else "school-b"
        return self.ingest.parse(self.tree.topic(school, gateway, message_type), payload)

    async def batch(self, *messages: tuple[str, MessageType, bytes]) -> None:
        """One turn of the ingest loop over these messages."""
        items = [self.item(*m) for m in messages]
        await self.ingest._process([i for i in items if i is not None])

    def rows(self, model: Any) -> list[Any]:
        with self.services.sessions() as session:
            return list(session.scalars(select(model)).all())

    def close(self) -> None:
        self.services.sessions.kw["bind"].dispose()


@pytest.fixture
def harness(db_url: str) -> Iterator[Harness]:
    running = Harness(db_url)
    yield running
    running.close()


def real_alarm(seq: int) -> tuple[str, MessageType, bytes]:
    """A real panic alarm from school A's gateway."""
    return ("gw-a", MessageType.EVENT, json.dumps(event(seq=seq, device_id=f"panic-{seq}")).encode())


@pytest.mark.parametrize("name", sorted(POISONS))
async def test_a_poison_between_real_alarms_costs_them_nothing(harness: Harness, name: str) -> None:
    message_type, payload = POISONS[name]
    await harness.batch(real_alarm(1), ("gw-b", message_type, payload), real_alarm(2))
    assert sorted(a.device_id for a in harness.rows(Alarm) if a.school_id == "school-a") == ["panic-1", "panic-2"]
    assert len(harness.acked.get("gw-a", [])) == 2, "the real alarms were not acked in their batch"
    stored = sum(1 for a in harness.rows(Alarm) if a.school_id == "school-b")
    letters = harness.rows(DeadLetterRow)
    assert stored + len(letters) >= 1 or message_type == MessageType.STATUS, f"{name}: neither stored nor kept"
    for letter in letters:
        assert letter.source == "school-b/gw-b" and letter.school_id == "school-b"
        assert letter.size == len(payload) and len(letter.payload) <= 16_384 * 3
    failures = harness.ingest.metrics.batch_failures

    await harness.batch(real_alarm(3), ("gw-b", message_type, payload))  # the agent resends it
    assert len(harness.acked["gw-a"]) == 3
    assert harness.ingest.metrics.batch_failures == failures, "a resent poison made a batch fail again"
    assert harness.ingest.health()["ok"] is True


async def test_the_batch_a_database_refuses_is_split_down_to_the_message_at_fault(harness: Harness) -> None:
    # A store that refuses one device's rows, as a constraint or a driver would: everything else commits.
    write = harness.ingest.store.write

    def refusing(batch: Batch, now: datetime) -> Outcome:
        if any(e.device_id == "panic-13" for _, _, e in batch.events.values()):
            raise ValueError("value out of range for this column")
        return write(batch, now)

    harness.ingest.store.write = refusing  # type: ignore[method-assign]
    alarms = [real_alarm(seq) for seq in range(1, 33)]
    await harness.batch(*alarms)
    assert len(harness.rows(Alarm)) == 31
    assert len(harness.acked["gw-a"]) == 31
    await harness.batch()  # the loop's next turn writes the dead letter
    [letter] = harness.rows(DeadLetterRow)
    assert (letter.stage, letter.reason, letter.source) == ("store", "ValueError", "school-a/gw-a")
    assert json.loads(letter.payload)["device_id"] == "panic-13"
    assert harness.ingest.metrics.batch_failures == 6  # 32, 16, 8, 4, 2 and 1 parts: log2(32) + 1 refusals
    before = harness.ingest.metrics.batch_failures
    await harness.batch(alarms[12], real_alarm(40))  # the agent resends the poison, beside a new alarm
    assert harness.ingest.metrics.batch_failures == before
    assert harness.ingest.metrics.poison_skipped == 1


async def test_the_dead_letters_of_a_flood_are_bounded(harness: Harness) -> None:
    junk = [("gw-b", MessageType.EVENT, b"{not json %d" % i) for i in range(500)]
    await harness.batch(real_alarm(1), *junk)
    assert len(harness.acked["gw-a"]) == 1
    assert len(harness.rows(DeadLetterRow)) == harness.ingest.dead_letters.per_window
    assert harness.ingest.dead_letters.by_stage["decode"] == 500


SEQS = st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.sampled_from([0, 1, MAX_SEQ, MAX_SEQ + 1]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e308, 5e-324]))
VALUES = st.one_of(st.none(), st.booleans(), SEQS, FLOATS, st.text(max_size=300))
TIMES = st.sampled_from(
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
     "2200-12-31T23:59:59Z", "2201-01-01T00:00:00Z", "2026-11-27T08:00:00+08:00"]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=SEQS, value=VALUES, ts=TIMES, zone=st.one_of(st.none(), SEQS), interval=FLOATS)
async def test_no_message_at_or_past_any_bound_makes_a_batch_fail_twice(
    harness: Harness, seq: int, value: Any, ts: str, zone: int | None, interval: float
) -> None:
    poison_event = json.dumps(event(seq=seq, value=value, ts=ts, zone=zone), allow_nan=True).encode()
    poison_status = json.dumps(status(seq=seq, ts=ts, interval_s=interval), allow_nan=True).encode()
    alarms_before = len(harness.acked.get("gw-a", []))
    failures = harness.ingest.metrics.batch_failures
    seq_a = alarms_before + 1
    await harness.batch(
        real_alarm(seq_a), ("gw-b", MessageType.EVENT, poison_event), ("gw-b", MessageType.STATUS, poison_status)
    )
    assert len(harness.acked["gw-a"]) == alarms_before + 1
    await harness.batch(("gw-b", MessageType.EVENT, poison_event), ("gw-b", MessageType.STATUS, poison_status))
    assert harness.ingest.metrics.batch_failures - failures <= 2 * 2 * 3  # one bisect at most, never a retry loop
    assert harness.ingest.health()["ok"] is True


async def test_an_alarm_overtakes_a_wave_of_snapshots(harness: Harness) -> None:
    tree = harness.tree
    for n in range(2_000):
        await harness.ingest.feed(
            tree.topic("school-b", "gw-b", MessageType.STATUS), json.dumps(status(seq=n)).encode()
        )
    await harness.ingest.feed(tree.topic("school-a", "gw-a", MessageType.EVENT), real_alarm(1)[2])
    assert harness.ingest.depth() == 2_001
    assert harness.ingest.alarms.queue.qsize() == 1  # its own lane: no snapshot is applied before it
    first = await harness.ingest.alarms.take(0.1)
    assert first is not None and isinstance(first.message, Event) and first.message.device_id == "panic-1"
    await harness.ingest._process([first])  # the alarm's batch commits with what fits behind it
    assert [a.device_id for a in harness.rows(Alarm)] == ["panic-1"]
    assert harness.acked["gw-a"]
