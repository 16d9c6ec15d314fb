"""The topic tree: ``{prefix}/{school_id}/{gateway_id}/{message_type}``.

The default prefix is ``campus/v1``. Ids are restricted to a safe alphabet so that a forged id can
never contain MQTT wildcards or extra levels.
"""

import enum
import re
from dataclasses import dataclass

from contract.errors import InvalidTopic

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_ID_RE = re.compile(rf"^{ID_PATTERN}$")
DEFAULT_PREFIX = "campus/v1"


class MessageType(enum.StrEnum):
    """The last topic level: what kind of message travels on the topic."""

    PRESENCE = "presence"  # agent -> hub, retained, last will "offline"
    BIRTH = "birth"  # agent -> hub, retained inventory
    STATUS = "status"  # agent -> hub, periodic snapshot
    EVENT = "event"  # agent -> hub, QoS1, acked end to end
    ACK = "ack"  # hub -> agent
    COMMAND = "command"  # hub -> agent
    IMAGE = "image"  # agent -> hub, a camera snapshot the hub asked for (since 1.1)


AGENT_TO_HUB = frozenset(
    {MessageType.PRESENCE, MessageType.BIRTH, MessageType.STATUS, MessageType.EVENT, MessageType.IMAGE}
)


def is_valid_id(value: str) -> bool:
    """Tell whether a school, gateway or device id is in the safe alphabet."""
    return bool(_ID_RE.match(value))


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic."""

    school_id: str
    gateway_id: str
    message_type: MessageType


@dataclass(frozen=True, slots=True)
class TopicTree:
    """Builds and parses topics under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix or self.prefix.endswith("/") or any(c in self.prefix for c in "#+"):
            raise ValueError(f"invalid topic prefix {self.prefix!r}")

    def topic(self, school_id: str, gateway_id: str, message_type: MessageType) -> str:
        """Build the topic of one gateway's message type."""
        for name, value in (("school_id", school_id), ("gateway_id", gateway_id)):
            if not is_valid_id(value):
                raise ValueError(f"{name} {value!r} must match {ID_PATTERN}")
        return f"{self.prefix}/{school_id}/{gateway_id}/{message_type.value}"

    def subscription(self, message_type: MessageType | None = None, share_group: str = "") -> str:
        """A wildcard filter over every gateway, optionally as a shared subscription."""
        last = message_type.value if message_type else "+"
        pattern = f"{self.prefix}/+/+/{last}"
        return f"$share/{share_group}/{pattern}" if share_group else pattern

    def parse(self, topic: str) -> Topic:
        """Parse a concrete topic; raise InvalidTopic when it is not in the tree."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            raise InvalidTopic(f"topic {topic[:120]!r} is not under {self.prefix!r}")
        parts = topic[len(head) :].split("/")
        if len(parts) != 3:
            raise InvalidTopic(f"topic {topic[:120]!r} must have school/gateway/type levels")
        school_id, gateway_id, kind = parts
        if not (is_valid_id(school_id) and is_valid_id(gateway_id)):
            raise InvalidTopic(f"topic {topic[:120]!r} has an invalid school or gateway id")
        try:
            message_type = MessageType(kind)
        except ValueError:
            raise InvalidTopic(f"topic {topic[:120]!r} has unknown type {kind[:40]!r}") from None
        return Topic(school_id, gateway_id, message_type)
