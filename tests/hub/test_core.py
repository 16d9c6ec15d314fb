"""Pure hub core: sequence-gap detection, table-driven (uptime: tests/unit/test_domain_rates.py)."""

from datetime import UTC, datetime

import pytest

from hub.domain.liveness import SeqTracker

T0 = datetime(2025, 3, 1, tzinfo=UTC)


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
