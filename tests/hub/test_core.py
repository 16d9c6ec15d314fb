"""Pure hub core: time-weighted uptime and sequence-gap detection, table-driven."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.liveness import SeqTracker
from hub.uptime import uptime_by_day

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_uptime_is_time_weighted_and_split_at_midnight() -> None:
    start, end = T0 + timedelta(hours=12), T0 + timedelta(days=1, hours=12)
    transitions = [(T0 + timedelta(hours=18), "offline"), (T0 + timedelta(hours=30), "online")]
    first, second = uptime_by_day("online", transitions, start, end)
    assert (first.day, first.seconds["online"], first.seconds["offline"]) == ("2025-03-01", 6 * 3600, 6 * 3600)
    assert (second.day, second.seconds["offline"], second.seconds["online"]) == ("2025-03-02", 6 * 3600, 6 * 3600)
    assert first.ratio == second.ratio == 0.5


def test_unknown_time_is_left_out_of_the_ratio() -> None:
    [day] = uptime_by_day("unknown", [(T0 + timedelta(hours=6), "degraded")], T0, T0 + timedelta(hours=12))
    assert day.seconds["unknown"] == 6 * 3600 and day.ratio == 1.0


@pytest.mark.parametrize(
    ("birth_seq", "seen", "snapshot_seq", "pending", "gap"),
    [
        (0, [1, 2, 3], 3, 0, False),  # all there
        (0, [1, 3], 3, 0, True),  # 2 is lost: the spool is empty, yet we miss it
        (0, [1, 3], 3, 1, False),  # 2 may still come (resends arrive out of order)
        (0, [3, 2, 1], 3, 0, False),  # out of order but complete
        (10, [], 10, 0, False),  # birth says all up to 10 is known
        (10, [], 4, 0, False),  # a new spool starts over: no gap
    ],
)
def test_seq_gap(birth_seq: int, seen: list[int], snapshot_seq: int, pending: int, gap: bool) -> None:
    tracker = SeqTracker()
    tracker.reset(birth_seq)
    for seq in seen:
        tracker.seen(seq)
    assert tracker.gap(snapshot_seq, pending) is gap
