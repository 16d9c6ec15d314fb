"""Hostile input: malformed, oversized and wrong-typed payloads and forged topics are rejects, never crashes."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker

from contract.messages import MAX_PAYLOAD_BYTES
from hub.domain.state import HubState
from hub.ingest import Ingest
from hub.live import Broadcaster
from hub.metrics import Metrics
from hub.settings import HubSettings
from hub.store import Store
from tests.hub.support import eventually, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto

PREFIX = "campus/v1"
VALID_EVENT: dict[str, Any] = {
    "schema_version": "1.0",
    "event_id": "0190a0a0-0000-7000-8000-000000000001",
    "seq": 1,
    "device_id": "panic-1",
    "ts": "2025-01-01T00:00:00+00:00",
    "type": "alarm.raised",
    "alarm_type": "panic",
}
WRONG_TYPES: dict[str, list[Any]] = {
    "seq": [[1], {"n": 1}, "one", -5, 1.5],
    "device_id": [{"x": 1}, ["a"], "", "a/b", "+", "#"],
    "type": ["alarm.exploded", 3, None],
    "event_id": [1234, None, "short"],
    "ts": ["yesterday", "2025-01-01T00:00:00", [2025]],
    "schema_version": ["2.0", 1, None, "x.y"],
}


def ingest() -> Ingest:
    """An ingest with no store behind it: parsing never touches the database."""
    settings = HubSettings()
    return Ingest(
        settings,
        HubState(3, 30),
        Store(sessionmaker()),
        Metrics(),
        sinks=(Broadcaster(),),
        now=lambda: datetime.now(UTC),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
garbage_payloads = st.one_of(
    st.binary(max_size=500),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
    json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(sorted(WRONG_TYPES)).flatmap(
        lambda field: st.sampled_from(WRONG_TYPES[field]).map(
            lambda value: json.dumps({**VALID_EVENT, field: value}).encode()
        )
    ),
    st.dictionaries(st.sampled_from(["extra", "bogus"]), json_values, min_size=1).map(
        lambda extra: json.dumps({**VALID_EVENT, **extra}).encode()
    ),
)
ids = st.text(min_size=1, max_size=70)
forged_topics = st.one_of(
    st.text(max_size=80),
    st.tuples(ids, ids, st.sampled_from(["event", "status", "birth", "presence", "ack", "nope"])).map(
        lambda t: f"{PREFIX}/{t[0]}/{t[1]}/{t[2]}"
    ),
    st.lists(ids, min_size=0, max_size=6).map(lambda parts: "/".join([PREFIX, *parts])),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=garbage_payloads)
def test_malformed_and_wrong_typed_payloads_are_counted_rejects(payload: bytes) -> None:
    subject = ingest()
    assert subject.parse(f"{PREFIX}/school-a/gw-01/event", payload) is None
    assert subject.rejects.total == 1


@settings(max_examples=300, deadline=None)
@given(topic=forged_topics)
def test_forged_topics_are_counted_rejects(topic: str) -> None:
    subject = ingest()
    valid = json.dumps(VALID_EVENT).encode()
    parsed = subject.parse(topic, valid)
    if parsed is None:
        # Our own ack and command topics are ignored, everything else that is not an agent topic is a reject.
        assert subject.rejects.total == 1 or topic.rsplit("/", 1)[-1] in ("ack", "command")
    else:
        assert topic.startswith(PREFIX + "/") and topic.endswith("/event")  # only a well-formed topic passes


def test_oversized_payload_is_rejected_before_parsing() -> None:
    subject = ingest()
    assert subject.parse(f"{PREFIX}/school-a/gw-01/status", b"{" * (MAX_PAYLOAD_BYTES + 1)) is None
    assert subject.rejects.by_reason == {"too_large": 1}


@pytest.mark.integration
async def test_hub_survives_hostile_messages_through_the_broker(mosquitto: Mosquitto, tmp_path: Path) -> None:
    prefix = unique_prefix()
    bad: list[tuple[str, bytes]] = [
        (f"{prefix}/school-a/gw-01/event", b"\xff\xfe not json"),
        (f"{prefix}/school-a/gw-01/event", b"[1, 2, 3]"),
        (f"{prefix}/school-a/gw-01/event", json.dumps({**VALID_EVENT, "seq": "one"}).encode()),
        (f"{prefix}/school-a/gw-01/status", b'{"schema_version": "9.0"}'),
        (f"{prefix}/school-a/gw-01/birth", b"x" * (MAX_PAYLOAD_BYTES + 10)),
        (f"{prefix}/school a/gw-01/presence", json.dumps({"state": "online", "ts": VALID_EVENT["ts"]}).encode()),
        (f"{prefix}/学校/gw-01/event", json.dumps(VALID_EVENT).encode()),
        (f"{prefix}/school-a/gw-01/presence", b'{"schema_version": "1.0", "state": "exploded", "ts": "x"}'),
    ]
    settings_ = hub_settings(mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", prefix)
    async with running_hub(settings_) as hub:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            for topic, payload in bad:
                await client.publish(topic, payload, qos=1)
            # A valid event afterwards is still stored and acked: the hub kept running.
            await client.publish(f"{prefix}/school-a/gw-01/event", json.dumps(VALID_EVENT).encode(), qos=1)

        async def rejects_counted() -> dict[str, int]:
            text = (await hub.http.get("/metrics")).text
            counts: dict[str, int] = {}
            for line in text.splitlines():
                if line.startswith("campusguard_hub_rejects_total{"):
                    reason = line.split('"')[1]
                    counts[reason] = int(float(line.rsplit(" ", 1)[1]))
            return counts if sum(counts.values()) == len(bad) else {}

        counts = await eventually(rejects_counted, 5)
        assert counts == {"payload": 4, "version": 1, "too_large": 1, "topic": 2}

        async def alarms_listed() -> dict[str, Any]:
            page: dict[str, Any] = await hub.get("/api/v1/alarms")
            return page if page["total"] else {}

        alarms = await eventually(alarms_listed, 5)
        assert (await hub.http.get("/healthz")).status_code == 200
        assert alarms["total"] == 1 and alarms["items"][0]["kind"] == "panic"
