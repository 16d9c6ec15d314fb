"""A device's 在线率 and 完好率 as the API reports them: from stored transitions, days cut in the school's zone."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contract import Birth, DeviceInfo, DeviceStatus, MessageType, Snapshot, TopicTree
from hub.api.inventory import device_uptime
from hub.app import build_services
from hub.auth.principal import Principal
from hub.settings import HubSettings
from tests.hub.support import hub_settings, unique_prefix
from tests.hub.test_ingest_batches import Clock, deliver

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 2, tzinfo=SHANGHAI).astimezone(UTC)  # 1 March 16:00 UTC
H = 3600.0


def heartbeat(availability: str, reason: str | None, at: datetime) -> Snapshot:
    status = DeviceStatus(device_id="cam-1", availability=availability, reason=reason, since=at)  # type: ignore[arg-type]
    return Snapshot(ts=at, seq=0, interval_s=30, devices=[status])


async def covered_camera(db_url: str, **settings: object) -> tuple[object, HubSettings]:
    """A camera online all Shanghai day 2 March, covered (degraded) from 08:00 to 14:00, offline 22:00-24:00."""
    prefix = unique_prefix()
    cfg = hub_settings("mqtt://127.0.0.1:1", db_url, prefix, liveness={"check_every_s": 60}, **settings)
    clock = Clock()
    svc = build_services(cfg, now=clock)
    tree = TopicTree(prefix)
    clock.now = DAY
    camera = DeviceInfo(id="cam-1", kind="camera", profile="camera/generic-onvif", interval_s=30)
    await deliver(svc.ingest, tree, MessageType.BIRTH, Birth(ts=DAY, seq=0, devices=[camera]))
    for hours, availability, reason in [(0, "online", None), (8, "degraded", "covered"), (14, "online", None),
                                        (22, "offline", "timeout"), (24, "online", None)]:  # fmt: skip
        clock.now = DAY + timedelta(hours=hours)
        await deliver(svc.ingest, tree, MessageType.STATUS, heartbeat(availability, reason, clock.now))
    return svc, cfg


async def test_a_covered_camera_is_online_but_not_intact_and_days_are_cut_in_shanghai(db_url: str) -> None:
    svc, _cfg = await covered_camera(db_url)
    with svc.sessions() as session:  # type: ignore[attr-defined]
        out = device_uptime(
            school_id="school-a", device_id="cam-1", session=session, svc=svc, who=Principal("it"),  # type: ignore[arg-type]
            start=DAY, end=DAY + timedelta(days=1, hours=12),
        )  # fmt: skip
    assert out.timezone == "Asia/Shanghai"
    first, second = out.days
    assert (first.day, first.start, first.end) == ("2026-03-02", DAY, DAY + timedelta(days=1))
    assert first.start == datetime(2026, 3, 1, 16, tzinfo=UTC)  # midnight in Shanghai
    assert (first.online_s, first.degraded_s, first.offline_s) == (16 * H, 6 * H, 2 * H)
    assert first.uptime == pytest.approx(22 / 24)  # 在线率: covered time counts as online
    assert first.intact == pytest.approx(16 / 24)  # 完好率: it does not
    assert (second.day, second.online_s, second.coverage) == ("2026-03-03", 12 * H, 1.0)
    assert out.intact == pytest.approx(28 / 36) and out.uptime == pytest.approx(34 / 36)
    svc.sessions.kw["bind"].dispose()  # type: ignore[attr-defined]


async def test_a_school_in_another_zone_has_its_own_days(db_url: str) -> None:
    schools = [{"id": "school-a", "timezone": "Asia/Urumqi"}]  # UTC+6: its day starts two hours after Beijing's
    svc, _cfg = await covered_camera(db_url, schools=schools)
    with svc.sessions() as session:  # type: ignore[attr-defined]
        out = device_uptime(
            school_id="school-a", device_id="cam-1", session=session, svc=svc, who=Principal("it"),  # type: ignore[arg-type]
            start=DAY, end=DAY + timedelta(days=1),
        )  # fmt: skip
    assert out.timezone == "Asia/Urumqi"
    assert [d.day for d in out.days] == ["2026-03-01", "2026-03-02"]
    assert out.days[0].end == datetime(2026, 3, 1, 18, tzinfo=UTC)
    svc.sessions.kw["bind"].dispose()  # type: ignore[attr-defined]


def test_a_time_zone_that_does_not_exist_is_refused_with_its_field() -> None:
    with pytest.raises(ValueError, match=r"schools\.0\.timezone[\s\S]*'Mars/Olympus' is not a time zone"):
        hub_settings("mqtt://127.0.0.1:1", "sqlite://", "p", schools=[{"id": "s", "timezone": "Mars/Olympus"}])
    with pytest.raises(ValueError, match="not a time zone"):
        hub_settings("mqtt://127.0.0.1:1", "sqlite://", "p", timezone="../../etc/passwd")
