"""Time-weighted 在线率 and 完好率, days cut in the school's time zone (hub.domain.rates)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.domain.rates import Tally, local_days, tally, tally_by_day, total

SHANGHAI = ZoneInfo("Asia/Shanghai")
H = 3600.0


def bj(day: int, hour: float = 0) -> datetime:
    """A time on 2 March 2026, Beijing time, as UTC."""
    return (datetime(2026, 3, day, tzinfo=SHANGHAI) + timedelta(hours=hour)).astimezone(UTC)


DAY = (bj(2), bj(3))  # one whole Shanghai day: 1 March 16:00 UTC to 2 March 16:00 UTC


def test_a_camera_down_two_hours_of_a_shanghai_day_is_91_67_percent_online() -> None:
    t = tally("online", [(bj(2, 9), "offline"), (bj(2, 11), "online")], *DAY)
    assert t.online_rate == pytest.approx(22 / 24) and round(100 * t.online_rate, 2) == 91.67
    assert (t.offline_s, t.unknown_s, t.coverage) == (2 * H, 0.0, 1.0)


def test_a_camera_online_but_covered_six_hours_is_online_all_day_and_75_percent_intact() -> None:
    t = tally("online", [(bj(2, 8), "degraded"), (bj(2, 14), "online")], *DAY)
    assert t.online_rate == 1.0
    assert t.intact_rate == pytest.approx(0.75)


def test_the_day_boundary_is_midnight_in_shanghai_at_16_00_utc() -> None:
    # Offline from 15:00 to 17:00 UTC: 1 h on 2 March (Beijing) and 1 h on 3 March.
    start, end = bj(2), bj(4)
    transitions = [
        (datetime(2026, 3, 2, 15, 0, tzinfo=UTC), "offline"),
        (datetime(2026, 3, 2, 17, 0, tzinfo=UTC), "online"),
    ]
    days = tally_by_day("online", transitions, start, end, tz=SHANGHAI)
    assert [d.day for d in days] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert [d.tally.offline_s for d in days] == [H, H]
    assert days[0].end == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    # Cut in UTC the same outage would be 2 h of one day: the mistake this module exists to avoid.
    utc_days = tally_by_day("online", transitions, start, end, tz=ZoneInfo("UTC"))
    assert [d.tally.offline_s for d in utc_days] == [0.0, 2 * H, 0.0]


def test_a_change_at_local_midnight_belongs_to_the_new_day() -> None:
    days = tally_by_day("online", [(bj(3), "offline")], bj(2), bj(4), tz=SHANGHAI)
    assert [d.tally.offline_s for d in days] == [0.0, 24 * H]


def test_unknown_time_is_reported_and_never_counted_as_up() -> None:
    # Nothing known until 06:00, then online, then nothing known again from 18:00 (the hub stopped).
    t = tally("unknown", [(bj(2, 6), "online"), (bj(2, 18), "unknown")], *DAY)
    assert (t.unknown_s, t.online_s) == (12 * H, 12 * H)
    assert t.online_rate == 1.0 and t.coverage == pytest.approx(0.5)


def test_a_day_with_nothing_known_has_no_rate_not_100_percent() -> None:
    t = tally("unknown", [], *DAY)
    assert (t.online_rate, t.intact_rate, t.coverage) == (None, None, 0.0)
    assert Tally().online_rate is None and Tally().coverage is None


def test_maintenance_is_counted_apart_and_left_out_of_the_rates() -> None:
    windows = [(bj(2, 10), bj(2, 12)), (bj(2, 11), bj(2, 13))]  # overlapping: 3 h, not 4
    t = tally("online", [(bj(2, 10), "offline"), (bj(2, 13), "online")], *DAY, maintenance=windows)
    assert t.maintenance_s == 3 * H
    assert t.offline_s == 0.0 and t.online_rate == 1.0
    assert t.expected_s == 24 * H


def test_gateway_down_time_is_down() -> None:
    # The hub shows the devices of a dead gateway as offline (reason gateway_offline): they count as down.
    t = tally(
        "online",
        [
            (
                bj(
                    2,
                    0,
                ),
                "offline",
            ),
            (bj(2, 6), "online"),
        ],
        *DAY,
    )
    assert t.online_rate == pytest.approx(0.75)


@pytest.mark.parametrize("state", ["", "standby", "ONLINE", "x" * 1000])
def test_a_state_nobody_defined_is_unknown(state: str) -> None:
    assert tally(state, [], *DAY).unknown_s == 24 * H


def test_ranges_that_cut_days_and_the_total() -> None:
    start, end = bj(2, 12), bj(4, 6)  # from noon on the 2nd to 06:00 on the 4th
    days = tally_by_day("offline", [(bj(3, 0), "online")], start, end, tz=SHANGHAI)
    assert [(d.day.day, d.tally.expected_s) for d in days] == [(2, 12 * H), (3, 24 * H), (4, 6 * H)]
    assert total(days).online_rate == pytest.approx(30 / 42)
    assert local_days(end, start, SHANGHAI) == [] and local_days(start, start, SHANGHAI) == []


def test_a_year_of_days_with_many_changes_adds_up() -> None:
    start = bj(2)
    end = start + timedelta(days=365)
    flips = [(start + timedelta(minutes=7 * n), "offline" if n % 2 else "online") for n in range(1, 70_000)]
    days = tally_by_day("online", flips, start, end, tz=SHANGHAI)
    assert len(days) == 365
    assert sum(d.tally.expected_s for d in days) == pytest.approx(365 * 24 * H)
    assert total(days).online_s + total(days).offline_s == pytest.approx(365 * 24 * H)


def test_a_zone_with_daylight_saving_has_23_and_25_hour_days() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, tzinfo=berlin).astimezone(UTC)
    end = datetime(2026, 3, 31, tzinfo=berlin).astimezone(UTC)
    days = tally_by_day("online", [], start, end, tz=berlin)
    assert [d.tally.expected_s / H for d in days] == [24, 23, 24]
