"""Decoding an inbound message fast, with exactly ``contract.decode``'s verdicts."""

import typing

from pydantic import ValidationError

from contract import Birth, Event, MessageType, Presence, Snapshot, decode
from contract.messages import MAX_PAYLOAD_BYTES, MODELS, SCHEMA_MAJOR, SCHEMA_MINOR, Image

Message = Presence | Birth | Snapshot | Event | Image

# Versions that contract.decode validates as they are (no unknown fields to drop): see decode_payload.
DIRECT_VERSIONS = frozenset(f"{SCHEMA_MAJOR}.{minor}" for minor in range(SCHEMA_MINOR + 1))


def decode_payload(message_type: MessageType, payload: bytes) -> Message:
    """``contract.decode``, with pydantic parsing the JSON bytes itself when the payload is valid.

    A 50-device snapshot validates in about half the time this way (no Python dicts in between).
    Only an accepted message of a version decode reads as it is takes the fast path; anything else
    (invalid, another version, no version) goes through ``contract.decode``, which gives the
    reject and its reason, so rejects are counted exactly as before.
    """
    if len(payload) <= MAX_PAYLOAD_BYTES:
        try:
            message = MODELS[message_type].model_validate_json(payload)
        except ValidationError:
            pass
        else:
            if "schema_version" in message.model_fields_set and message.schema_version in DIRECT_VERSIONS:
                return typing.cast(Message, message)
    message = decode(message_type, payload)
    return typing.cast(Message, message)
