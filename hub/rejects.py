"""Counting invalid messages by reason, and logging them at most once per source per minute."""

import logging
from collections import Counter
from datetime import datetime, timedelta

log = logging.getLogger("hub.rejects")


def source_of(topic: str, prefix: str) -> str:
    """A short, bounded name of who sent a message: its school/gateway levels, or 'foreign'."""
    head = prefix + "/"
    if not topic.startswith(head):
        return "foreign"
    parts = topic[len(head) :].split("/")
    return "/".join(p[:64] for p in parts[:2])


class RejectLog:
    """Counts rejects by reason; logs the first of each source and then once per window."""

    def __init__(self, window: timedelta = timedelta(minutes=1), max_sources: int = 10_000) -> None:
        self.window = window
        self.max_sources = max_sources
        self.by_reason: Counter[str] = Counter()
        self._last_logged: dict[str, datetime] = {}
        self._suppressed: Counter[str] = Counter()

    @property
    def total(self) -> int:
        """All rejects so far."""
        return sum(self.by_reason.values())

    def reject(self, source: str, reason: str, detail: str, now: datetime) -> None:
        """Count one reject; log it unless this source was logged within the window."""
        self.by_reason[reason] += 1
        last = self._last_logged.get(source)
        if last is not None and now - last < self.window:
            self._suppressed[source] += 1
            return
        if len(self._last_logged) >= self.max_sources:  # forged topics must not grow memory forever
            self._last_logged.clear()
        suppressed = self._suppressed.pop(source, 0)
        more = f" (+{suppressed} more since last report)" if suppressed else ""
        log.warning("rejected a message from %s: %s: %s%s", source, reason, detail[:200], more)
        self._last_logged[source] = now
