"""Pure liveness rules: heartbeat deadlines and sequence-gap detection (clock passed in)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta


def heartbeat_deadline(last_seen: datetime, interval_s: float, misses: float) -> datetime:
    """When a gateway that last spoke at ``last_seen`` counts as silent."""
    return last_seen + timedelta(seconds=interval_s * misses)


def is_silent(last_seen: datetime, interval_s: float, misses: float, now: datetime) -> bool:
    """Whether the gateway has missed ``misses`` snapshot intervals."""
    return now >= heartbeat_deadline(last_seen, interval_s, misses)


@dataclass
class SeqTracker:
    """Tracks a gateway's event sequence numbers: the highest contiguous one, and those above it.

    Resends arrive out of order, so a gap is only proven when the agent says its spool is empty
    (a snapshot with no pending events) while the hub still misses numbers up to the snapshot's seq.
    """

    watermark: int | None = None
    above: set[int] = field(default_factory=set)

    def reset(self, seq: int) -> None:
        """Accept everything up to ``seq`` as known (a birth or rebirth carries full state)."""
        self.watermark = seq if self.watermark is None else max(self.watermark, seq)
        self._advance()

    def seen(self, seq: int) -> None:
        """Record one event's seq."""
        if self.watermark is None or seq <= self.watermark:
            return
        self.above.add(seq)
        self._advance()

    def _advance(self) -> None:
        assert self.watermark is not None
        self.above = {s for s in self.above if s > self.watermark}
        while self.watermark + 1 in self.above:
            self.watermark += 1
            self.above.discard(self.watermark)

    def gap(self, last_seq: int, pending_events: int | None) -> bool:
        """Whether events are missing: the agent has nothing left to send, yet we lack some."""
        if self.watermark is None:
            self.reset(last_seq)
            return False
        if last_seq < self.watermark:  # a new spool (agent reinstalled): start over from here
            self.watermark, self.above = last_seq, set()
            return False
        return pending_events == 0 and self.watermark < last_seq
