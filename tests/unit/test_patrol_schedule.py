"""When a patrol plan's rounds fall due, and whether each was done, overdue or missed (pure)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.domain.patrol import Done, Schedule, begun, current, rounds, tally, upcoming, windows

SH = ZoneInfo("Asia/Shanghai")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def plan(start: str = "08:00", end: str = "20:00", every: int = 240, grace: int = 30, since: datetime = LONG_AGO,
         zone: ZoneInfo = SH) -> Schedule:  # fmt: skip
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    return Schedule(time(h1, m1), time(h2, m2), timedelta(minutes=every), timedelta(minutes=grace), since, zone)


def local(day: int, hh: int, mm: int = 0, zone: ZoneInfo = SH) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=zone).astimezone(UTC)


def ran(run_id: str, started: datetime, minutes: float = 10) -> Done:
    """A completed run, begun at ``started`` and finished some minutes later."""
    return Done(run_id, started, started + timedelta(minutes=minutes))


def states(found: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(r.at.astimezone(SH).strftime("%d %H:%M"), str(r.state)) for r in found]


def test_a_day_window_is_cut_in_the_schools_zone_not_utc() -> None:
    found = windows(plan(), date(2026, 11, 27))
    assert [(a.astimezone(SH).strftime("%H:%M"), b.astimezone(SH).strftime("%H:%M")) for a, b in found] == [
        ("08:00", "12:00"), ("12:00", "16:00"), ("16:00", "20:00"),
    ]  # fmt: skip
    assert found[0][0] == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai is midnight UTC


@pytest.mark.parametrize(
    ("start", "end", "every", "expected"),
    [
        ("20:00", "06:00", 300, ["20:00", "01:00"]),  # overnight: the dorm rounds of a boarding school
        ("00:00", "00:00", 360, ["00:00", "06:00", "12:00", "18:00"]),  # the whole day
        ("08:00", "09:30", 60, ["08:00", "09:00"]),  # the last round is cut at the window's end
        ("08:00", "08:01", 1440, ["08:00"]),  # one short round
    ],
)
def test_windows_of_every_shape(start: str, end: str, every: int, expected: list[str]) -> None:
    found = windows(plan(start, end, every, grace=0), date(2026, 11, 27))
    assert [a.astimezone(SH).strftime("%H:%M") for a, _ in found] == expected
    assert all(b > a for a, b in found)
    assert found[-1][1] <= found[0][0] + timedelta(days=1)


def test_rounds_done_due_overdue_missed_and_upcoming() -> None:
    schedule = plan()
    done = [ran("r1", local(27, 9, 15))]
    found = rounds(schedule, done, local(27, 0), local(28, 0), now=local(27, 16, 40))
    assert states(found) == [("27 08:00", "done"), ("27 12:00", "missed"), ("27 16:00", "overdue")]
    assert found[0].run_id == "r1"
    assert states(rounds(schedule, done, local(27, 0), local(28, 0), now=local(27, 16, 10)))[-1] == ("27 16:00", "due")
    assert states(rounds(schedule, done, local(27, 0), local(28, 0), now=local(27, 7)))[1:] == [
        ("27 12:00", "upcoming"), ("27 16:00", "upcoming"),
    ]  # fmt: skip


def test_a_run_counts_once_and_only_for_the_round_it_began_in() -> None:
    schedule = plan()
    done = [
        ran("early", local(27, 7, 59)),  # before the window: out of hours, counts for nothing
        ran("a", local(27, 8, 0)),  # the round's first instant counts
        ran("b", local(27, 9)),  # a second run in the same round does not do the next one
        ran("edge", local(27, 16, 0)),  # the instant a round ends belongs to the next
    ]
    found = rounds(schedule, done, local(27, 0), local(28, 0), now=local(27, 23))
    assert states(found) == [("27 08:00", "done"), ("27 12:00", "missed"), ("27 16:00", "done")]
    assert [r.run_id for r in found] == ["a", None, "edge"]


def test_rounds_that_ended_before_the_plan_existed_are_not_owed() -> None:
    schedule = plan(since=local(27, 13))
    found = rounds(schedule, [], local(27, 0), local(28, 0), now=local(27, 16, 10))
    assert states(found) == [("27 12:00", "missed"), ("27 16:00", "due")]  # 12:00 was still open at 13:00


def test_an_overnight_round_is_found_from_the_next_day_and_counted_on_the_day_it_begins() -> None:
    schedule = plan("20:00", "06:00", every=300, grace=60)
    now = local(28, 2)
    assert current(schedule, [], now) == rounds(schedule, [], now, now + timedelta(seconds=1), now)[0]
    assert states([current(schedule, [], now)]) == [("28 01:00", "overdue")]  # type: ignore[list-item]
    day = begun(schedule, [], local(28, 0), local(29, 0), now=local(29, 12))
    assert states(day) == [
        ("28 01:00", "missed"),
        ("28 20:00", "missed"),
    ]  # the 27th night's second round, the 28th's first


def test_outside_the_plans_hours_there_is_no_round_and_the_next_is_named() -> None:
    schedule = plan()
    assert current(schedule, [], local(27, 21)) is None
    assert upcoming(schedule, local(27, 21)) == local(28, 8)
    assert upcoming(schedule, local(27, 9)) == local(27, 12)


def test_a_spring_forward_night_keeps_the_wall_clock_window() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    schedule = plan("00:00", "06:00", every=60, grace=0, zone=berlin)
    found = windows(schedule, date(2026, 3, 29))  # 02:00 does not exist that night: the window is 5 h long
    assert len(found) == 5
    assert found[-1][1] == datetime(2026, 3, 29, 6, 0, tzinfo=berlin).astimezone(UTC)


def test_tally_counts_owed_rounds_only() -> None:
    schedule = plan()
    found = rounds(schedule, [ran("r", local(27, 8, 5))], local(27, 0), local(28, 0), now=local(27, 16, 45))
    counted = tally(found)
    assert (counted.owed, counted.done, counted.missed, counted.overdue) == (3, 1, 1, 1)
    assert counted.first_missed == local(27, 12)
    assert tally([]).owed == 0
    both = counted + counted
    assert (both.owed, both.missed, both.first_missed) == (6, 2, local(27, 12))


@pytest.mark.parametrize(("every", "since"), [(0, LONG_AGO), (240, datetime(2026, 1, 1))])  # noqa: DTZ001  (naive on purpose)
def test_a_schedule_refuses_nonsense(every: int, since: datetime) -> None:
    with pytest.raises(ValueError, match=r"minute|timezone"):
        plan(every=every, grace=0, since=since)


def test_a_run_finished_long_after_its_round_did_not_patrol_it() -> None:
    schedule = plan(grace=30)  # 08:00-12:00, 12:00-16:00, ...; finished by the end plus 30 min
    late = [ran("begun-in-time-finished-at-13:00", local(27, 11, 50), minutes=70)]
    assert states(rounds(schedule, late, local(27, 0), local(27, 12), now=local(27, 14)))[0] == ("27 08:00", "missed")
    close = [ran("finished-at-12:20", local(27, 11, 50), minutes=30)]
    assert states(rounds(schedule, close, local(27, 0), local(27, 12), now=local(27, 14)))[0] == ("27 08:00", "done")


def test_a_fall_back_day_keeps_the_rounds_on_the_wall_clock() -> None:
    new_york = ZoneInfo("America/New_York")
    schedule = plan("00:00", "00:00", every=240, grace=0, zone=new_york)
    found = windows(schedule, date(2024, 11, 3))  # 01:00-02:00 happens twice that night
    assert [a.astimezone(new_york).strftime("%H:%M") for a, _ in found] == [
        "00:00",
        "04:00",
        "08:00",
        "12:00",
        "16:00",
        "20:00",
    ]
    assert found[0][1] - found[0][0] == timedelta(hours=5)  # the first round is an hour longer
