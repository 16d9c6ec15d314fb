"""Each local day's rates as ``daily_rate`` points: per device, school, district and city, cut in the
school's time zone, written once per day by the leader, and accepted by a real InfluxDB 1.6."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.db.engine import make_engine, migrate, session_factory
from hub.domain.rates import Tally
from hub.timeseries.daily import DailyRates, day_lines
from hub.timeseries.lineproto import ns
from hub.timeseries.settings import TimeSeriesSettings
from hub.timeseries.sink import TimeSeriesSink
from tests.hub.test_report import Rows, local, october, settings_for
from tests.support.influx import InfluxDB

H = 3600.0


def test_a_day_s_lines_sum_devices_into_schools_districts_and_the_city() -> None:
    start = local(5, 0)
    devices = {
        ("school-a", "cam-1"): ("camera", Tally(online_s=22 * H, offline_s=2 * H)),
        ("school-a", "cam-2"): ("camera", Tally(online_s=18 * H, degraded_s=6 * H)),
        ("school-b", "cam-9"): ("camera", Tally(unknown_s=24 * H)),  # never heard from: no rate, not 100 %
    }
    lines = day_lines(start, devices, {"school-a": "d1", "school-b": "d1"})
    stamp = f" {ns(start)}"
    assert all(text.endswith(stamp) for text in lines) and start == datetime(2026, 10, 4, 16, tzinfo=UTC)
    by_series = {text.split(" ")[0]: text.split(" ")[1] for text in lines}
    cam1 = by_series["daily_rate,device=cam-1,district=d1,kind=camera,level=device,school=school-a"]
    assert cam1.startswith(f"online_rate={22 / 24!r},intact_rate={22 / 24!r},coverage=1.0,online_s=79200.0")
    school_a = by_series["daily_rate,district=d1,level=school,school=school-a"]
    assert f"online_rate={46 / 48!r},intact_rate={40 / 48!r}" in school_a
    unknown = by_series["daily_rate,device=cam-9,district=d1,kind=camera,level=device,school=school-b"]
    assert "online_rate" not in unknown and "coverage=0.0" in unknown and "unknown_s=86400.0" in unknown
    assert f"coverage={48 / 72!r}" in by_series["daily_rate,district=d1,level=district"]
    assert "daily_rate,level=city" in by_series


def test_the_leader_writes_each_ended_day_once_and_a_follower_none(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        october(Rows(session))
    settings = settings_for(tmp_path, db_url).model_copy(
        update={"timeseries": TimeSeriesSettings(backend="influxdb", daily_backfill_days=3)}
    )
    clock = {"now": local(6, 10)}
    sink = TimeSeriesSink(settings.timeseries, lambda _s, _d: ("", ""))
    daily = DailyRates(settings, sessions, sink, lambda: True, lambda: clock["now"])
    lines = daily.due()
    shanghai_days = sorted({(zone, day.isoformat()) for zone, day in daily.written if zone == "Asia/Shanghai"})
    assert [d for _, d in shanghai_days] == ["2026-10-03", "2026-10-04", "2026-10-05"]
    cam1_oct5 = [t for t in lines if "device=cam-1," in t and t.endswith(str(ns(local(5, 0))))]
    assert len(cam1_oct5) == 1 and f"online_rate={22 / 24!r}" in cam1_oct5[0]  # 2 h down on 5 October
    london = [t for t in lines if "school=school-c" in t and "level=school" in t]
    assert len(london) == 3  # its own days, cut at London's midnight
    assert daily.due() == []  # nothing new until a day ends
    clock["now"] += timedelta(days=1)
    assert {t.rsplit(" ", 1)[1] for t in daily.due() if "level=city" in t} == {
        str(ns(local(6, 0))),
        str(ns(datetime(2026, 10, 6, tzinfo=ZoneInfo("Europe/London")))),  # London's 6 October: from 23:00Z
    }
    engine.dispose()


async def test_daily_rates_reach_a_real_influxdb(tmp_path: Path) -> None:
    influxdb = InfluxDB(tmp_path / "influxdb").start()
    db_url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    try:
        influxdb.query('CREATE DATABASE "cg"')
        with sessions() as session:
            october(Rows(session))
        timeseries = {"backend": "influxdb", "flush_s": 0.1, "daily_check_s": 0.2, "daily_backfill_days": 31,
                      "influxdb": {"url": influxdb.url, "database": "cg"}}  # fmt: skip
        settings = settings_for(tmp_path, db_url).model_copy(update={"timeseries": TimeSeriesSettings(**timeseries)})
        sink = TimeSeriesSink(settings.timeseries, lambda _s, _d: ("", ""))
        daily = DailyRates(settings, sessions, sink, lambda: True, lambda: local(1, 0, 11))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sink.run(stop)), asyncio.create_task(daily.run(stop))]
        rows: list[dict[str, Any]] = []
        query = "SELECT online_rate, offline_s FROM daily_rate WHERE level = 'device' AND device = 'cam-1'"
        for _ in range(200):
            if influxdb.query("SHOW MEASUREMENTS", "cg") and len(rows := influxdb.rows(query, "cg")) >= 31:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)
        assert len(rows) == 31  # every day of October
        by_day = {r["time"][:10]: r for r in rows}  # stamped at Shanghai midnight: 16:00Z the day before
        assert by_day["2026-10-04"]["offline_s"] == 2 * H and by_day["2026-10-04"]["online_rate"] == 22 / 24
        assert by_day["2026-10-09"]["offline_s"] == 16 * H and by_day["2026-10-10"]["offline_s"] == 14 * H
        assert sink.rejected == 0
    finally:
        engine.dispose()
        influxdb.stop()
