"""Messages the hub could not take, kept for IT with the reason and the raw payload.

A message fails at one of three stages: ``decode`` (it breaks the contract), ``apply`` (it passed
decoding but the hub's state could not take it) or ``store`` (the database refused it; ingest
isolates it by splitting the batch). Whatever the stage, it is counted, kept here (payload capped)
and never holds up another message. Keeping is rate-limited per source, so a gateway that floods
garbage costs a bounded number of rows; the rest are counted only.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contract.topics import ID_PATTERN

MAX_PAYLOAD_BYTES = 16_384
MAX_DETAIL_CHARS = 500
ID = re.compile(ID_PATTERN)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message the hub could not take."""

    received_at: datetime
    source: str  # "school/gateway" from the topic, or "foreign"
    topic: str
    stage: str  # decode | apply | store
    reason: str
    detail: str
    payload: bytes

    def row(self) -> dict[str, Any]:
        """The database row: text made safe for every backend (no NUL, valid UTF-8), capped."""
        text = self.payload[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")
        school, _, gateway = self.source.partition("/")
        return {
            "received_at": self.received_at,
            "source": _clean(self.source, 200),
            "school_id": _clean(school, 64) if gateway and ID.fullmatch(school) else None,
            "topic": _clean(self.topic, 300),
            "stage": self.stage,
            "reason": _clean(self.reason, 64),
            "detail": _clean(self.detail, MAX_DETAIL_CHARS),
            "payload": text,
            "size": len(self.payload),
        }


def _clean(value: str, limit: int) -> str:
    return value[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


class DeadLetters:
    """Dead letters waiting for the next commit; kept at most ``per_window`` per source and window."""

    def __init__(
        self, per_window: int = 20, window: timedelta = timedelta(minutes=1), max_pending: int = 1_000
    ) -> None:
        self.per_window = per_window
        self.window = window
        self.max_pending = max_pending
        self.by_stage: Counter[str] = Counter()
        self.dropped = 0  # counted, not kept: over a source's rate or the pending cap
        self._pending: list[DeadLetter] = []
        self._kept: dict[str, tuple[datetime, int]] = {}

    def add(self, letter: DeadLetter) -> bool:
        """Count a dead letter; keep it unless its source is over its rate. Return whether kept."""
        self.by_stage[letter.stage] += 1
        start, kept = self._kept.get(letter.source, (letter.received_at, 0))
        if letter.received_at - start >= self.window:
            start, kept = letter.received_at, 0
        if kept >= self.per_window or len(self._pending) >= self.max_pending:
            self.dropped += 1
            return False
        if len(self._kept) >= 10_000:  # forged sources must not grow memory forever
            self._kept.clear()
        self._kept[letter.source] = (start, kept + 1)
        self._pending.append(letter)
        return True

    def take(self) -> list[DeadLetter]:
        """The dead letters to write with the next batch."""
        taken, self._pending = self._pending, []
        return taken

    def put_back(self, letters: list[DeadLetter]) -> None:
        """Letters whose batch failed to commit: write them with the next one."""
        self._pending = letters + self._pending
