"""The spool's events in memory, while its file cannot be written (``agent.spool``).

The same rules as the file: alarms first, each oldest first; an event leaves only on the hub's ack,
and only if it was published; past ``max_events`` telemetry is coalesced per device, then the
oldest dropped, and alarms are never dropped.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class Held:
    """One event kept in memory."""

    seq: int
    event_id: str
    is_alarm: bool
    device_id: str
    payload: bytes
    sent_at: float | None = None
    published: bool = False

    def row(self) -> tuple[int, str, int, str, bytes, float | None, int]:
        """The spool file's row for it."""
        return (
            self.seq,
            self.event_id,
            int(self.is_alarm),
            self.device_id,
            self.payload,
            self.sent_at,
            int(self.published),
        )


class MemoryOutbox:
    """Events by seq, with what was acked (so the file can forget those too when it is back)."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.held: dict[int, Held] = {}
        self.gone: set[str] = set()  # ids acked here
        self.dropped = 0  # telemetry dropped over the cap

    def add(self, held: Held) -> None:
        """Keep one event; over the cap, make room from telemetry."""
        self.held[held.seq] = held
        if len(self.held) > self.max_events:
            self._make_room()

    def _make_room(self) -> None:
        telemetry = [h for h in sorted(self.held.values(), key=lambda h: h.seq) if not h.is_alarm]
        latest = {h.device_id: h.seq for h in telemetry}
        excess = len(self.held) - self.max_events
        for h in telemetry:  # the older changes of a device first, then the oldest of all
            if excess <= 0:
                return
            if latest[h.device_id] != h.seq:
                del self.held[h.seq]
                self.dropped, excess = self.dropped + 1, excess - 1
        for h in telemetry:
            if excess <= 0:
                return
            if h.seq in self.held:
                del self.held[h.seq]
                self.dropped, excess = self.dropped + 1, excess - 1

    def due(self, now: float, resend_after_s: float, limit: int) -> list[tuple[int, bytes]]:
        """Events never sent, or sent before ``now - resend_after_s``; alarms first, each oldest first."""
        due = [h for h in self.held.values() if h.sent_at is None or h.sent_at < now - resend_after_s]
        due.sort(key=lambda h: (not h.is_alarm, h.seq))
        return [(h.seq, h.payload) for h in due[: max(limit, 0)]]

    def in_flight(self, now: float, resend_after_s: float) -> int:
        """Events sent recently, waiting for their ack."""
        return sum(1 for h in self.held.values() if h.sent_at is not None and h.sent_at >= now - resend_after_s)

    def mark_sent(self, seqs: list[int], now: float | None) -> None:
        """These were handed to the broker (``now``), or after all were not (None: due again at once)."""
        for seq in seqs:
            held = self.held.get(seq)
            if held is not None:
                held.sent_at, held.published = now, held.published or now is not None

    def mark_all_unsent(self) -> None:
        """After a reconnect everything unacked is due at once."""
        for held in self.held.values():
            held.sent_at = None

    def ack(self, event_ids: list[str]) -> int:
        """Forget the published events the hub stored; return how many."""
        wanted = set(event_ids)
        acked = [seq for seq, h in self.held.items() if h.published and h.event_id in wanted]
        for seq in acked:
            self.gone.add(self.held.pop(seq).event_id)
        return len(acked)

    def alarms(self) -> int:
        """Alarm events held."""
        return sum(1 for h in self.held.values() if h.is_alarm)
