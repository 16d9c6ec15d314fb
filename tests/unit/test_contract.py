"""The MQTT contract: topics, codec, version rule, typed errors."""

import json

import pytest

from contract import (
    Ack,
    ContractError,
    Event,
    InvalidPayload,
    InvalidTopic,
    MessageType,
    PayloadTooLarge,
    TopicTree,
    UnsupportedVersion,
    decode,
    encode,
)
from contract.messages import MAX_PAYLOAD_BYTES, new_event_id, utc_now


def _event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "schema_version": "1.0",
        "event_id": new_event_id(),
        "seq": 7,
        "device_id": "panic-1",
        "ts": "2026-11-23T10:00:00Z",
        "type": "alarm.raised",
        "alarm_type": "panic",
    }
    base.update(overrides)
    return base


def test_topics_round_trip() -> None:
    tree = TopicTree()
    topic = tree.topic("school-001", "gw-01", MessageType.EVENT)
    assert topic == "campus/v1/school-001/gw-01/event"
    parsed = tree.parse(topic)
    assert (parsed.school_id, parsed.gateway_id, parsed.message_type) == ("school-001", "gw-01", MessageType.EVENT)
    assert tree.subscription(MessageType.STATUS, share_group="hub") == "$share/hub/campus/v1/+/+/status"


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/s/g/event",
        "campus/v1/s/g/event/extra",
        "campus/v1/s/event",
        "campus/v1/s/g/unknown",
        "campus/v1/s#/g/event",
        "campus/v1/-bad/g/event",
    ],
)
def test_forged_or_foreign_topics_are_rejected(topic: str) -> None:
    with pytest.raises(InvalidTopic):
        TopicTree().parse(topic)


def test_building_a_topic_refuses_wildcards_in_ids() -> None:
    with pytest.raises(ValueError, match="school_id"):
        TopicTree().topic("a/+", "gw", MessageType.EVENT)


def test_event_round_trip_and_unique_sortable_ids() -> None:
    event = Event.model_validate(_event())
    assert decode(MessageType.EVENT, encode(event)) == event
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 36 and i[14] == "7" for i in ids)  # UUIDv7


@pytest.mark.parametrize(
    ("payload", "error", "reason"),
    [
        (b"not json", InvalidPayload, "payload"),
        (b"[1, 2]", InvalidPayload, "payload"),
        (json.dumps(_event(schema_version="2.0")).encode(), UnsupportedVersion, "version"),
        (json.dumps(_event(schema_version=None)).encode(), UnsupportedVersion, "version"),
        (json.dumps(_event(seq="x")).encode(), InvalidPayload, "payload"),
        (json.dumps(_event(seq=0)).encode(), InvalidPayload, "payload"),
        (json.dumps(_event(alarm_type=None)).encode(), InvalidPayload, "payload"),
        (json.dumps(_event(ts="2026-11-23T10:00:00")).encode(), InvalidPayload, "payload"),
        (json.dumps(_event(typo=1)).encode(), InvalidPayload, "payload"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), PayloadTooLarge, "too_large"),
    ],
)
def test_bad_payloads_raise_typed_errors(payload: bytes, error: type[ContractError], reason: str) -> None:
    with pytest.raises(error) as caught:
        decode(MessageType.EVENT, payload)
    assert caught.value.reason == reason


def test_newer_minor_version_drops_fields_it_does_not_know() -> None:
    newer = _event(schema_version="1.4", future_field={"x": 1})
    event = decode(MessageType.EVENT, json.dumps(newer).encode(), Event)
    assert event.alarm_type == "panic"
    assert event.schema_version == "1.4"


def test_error_names_the_field() -> None:
    with pytest.raises(InvalidPayload, match="seq"):
        decode(MessageType.EVENT, json.dumps(_event(seq=-1)).encode())


def test_ack_limits_its_size() -> None:
    too_many = json.dumps({"schema_version": "1.0", "ts": "2026-11-23T10:00:00Z", "event_ids": ["x"] * 5001})
    with pytest.raises(InvalidPayload, match="event_ids"):
        decode(MessageType.ACK, too_many.encode())
    assert decode(MessageType.ACK, encode(Ack(ts=utc_now(), event_ids=["x"] * 5000)), Ack).event_ids[0] == "x"
