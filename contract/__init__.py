"""The MQTT contract shared by the agent and the hub: topics, messages, versions.

Neither side defines wire formats of its own; both import them from here. See docs/protocol.md.
"""

from contract.errors import (
    ContractError,
    InvalidPayload,
    InvalidTopic,
    PayloadTooLarge,
    UnsupportedVersion,
)
from contract.messages import (
    SCHEMA_VERSION,
    Ack,
    Birth,
    Command,
    DeviceInfo,
    DeviceStatus,
    Event,
    Image,
    Presence,
    Snapshot,
    decode,
    encode,
)
from contract.topics import MessageType, Topic, TopicTree

__all__ = [
    "SCHEMA_VERSION",
    "Ack",
    "Birth",
    "Command",
    "ContractError",
    "DeviceInfo",
    "DeviceStatus",
    "Event",
    "Image",
    "InvalidPayload",
    "InvalidTopic",
    "MessageType",
    "PayloadTooLarge",
    "Presence",
    "Snapshot",
    "Topic",
    "TopicTree",
    "UnsupportedVersion",
    "decode",
    "encode",
]
