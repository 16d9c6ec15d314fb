"""School and district 在线率 and 完好率 from stored transitions: device-time weighted, ranked, scoped."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract import Birth, DeviceInfo, DeviceStatus, MessageType, Snapshot, TopicTree, encode
from hub.api.rates import rates
from hub.app import build_services
from hub.auth.principal import Principal
from hub.auth.roles import Scope
from tests.hub.support import hub_settings, unique_prefix
from tests.hub.test_ingest_batches import Clock

DAY = datetime(2026, 3, 2, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
SCHOOLS = [
    {"id": "school-a", "name": "第一小学", "district": "d1"},
    {"id": "school-b", "name": "阳光幼儿园", "district": "d1"},
    {"id": "school-c", "name": "第二中学", "district": "d2"},
]


async def send(svc: Any, tree: TopicTree, school: str, gateway: str, kind: MessageType, message: Any) -> None:
    item = svc.ingest.parse(tree.topic(school, gateway, kind), encode(message))
    assert item is not None
    await svc.ingest._process([item])


def heartbeat(at: datetime, states: dict[str, tuple[str, str | None]]) -> Snapshot:
    devices = [DeviceStatus(device_id=d, availability=a, reason=r, since=at) for d, (a, r) in states.items()]  # type: ignore[arg-type]
    return Snapshot(ts=at, seq=0, interval_s=30, devices=devices)


@pytest.fixture
async def city(db_url: str) -> Any:
    """school-a: cam-1 down 09:00-11:00, cam-2 covered 08:00-14:00, a gate all day; school-b: one
    camera up all day; school-c: a camera never heard from. One Shanghai day, 2 March 2026."""
    prefix = unique_prefix()
    settings = hub_settings("mqtt://127.0.0.1:1", db_url, prefix, liveness={"check_every_s": 60}, schools=SCHOOLS)
    clock = Clock()
    svc = build_services(settings, now=clock)
    tree = TopicTree(prefix)
    clock.now = DAY
    cams = ["cam-1", "cam-2"]
    infos = [DeviceInfo(id=c, kind="camera", profile="p", interval_s=30) for c in cams]
    infos.append(DeviceInfo(id="gate-1", kind="access_gate", profile="p", interval_s=30))
    await send(svc, tree, "school-a", "gw-a", MessageType.BIRTH, Birth(ts=DAY, seq=0, devices=infos))
    one = [DeviceInfo(id="cam-9", kind="camera", profile="p", interval_s=30)]
    await send(svc, tree, "school-b", "gw-b", MessageType.BIRTH, Birth(ts=DAY, seq=0, devices=one))
    await send(svc, tree, "school-c", "gw-c", MessageType.BIRTH, Birth(ts=DAY, seq=0, devices=one))
    schedule = [
        (0, {"cam-1": ("online", None), "cam-2": ("online", None), "gate-1": ("online", None)}),
        (8, {"cam-1": ("online", None), "cam-2": ("degraded", "covered"), "gate-1": ("online", None)}),
        (9, {"cam-1": ("offline", "timeout"), "cam-2": ("degraded", "covered"), "gate-1": ("online", None)}),
        (11, {"cam-1": ("online", None), "cam-2": ("degraded", "covered"), "gate-1": ("online", None)}),
        (14, {"cam-1": ("online", None), "cam-2": ("online", None), "gate-1": ("online", None)}),
    ]
    for hours, states in schedule:
        clock.now = DAY + timedelta(hours=hours)
        await send(svc, tree, "school-a", "gw-a", MessageType.STATUS, heartbeat(clock.now, states))
        await send(svc, tree, "school-b", "gw-b", MessageType.STATUS, heartbeat(clock.now, {"cam-9": ("online", None)}))
    yield svc
    svc.sessions.kw["bind"].dispose()


async def ask(svc: Any, who: Principal | None = None, **params: Any) -> Any:
    args = {"start": DAY, "end": DAY + timedelta(days=1), "district": None, "school": None, "kind": None, **params}
    return await rates(svc=svc, who=who or Principal("bureau"), **args)


async def test_schools_are_weighted_by_device_time_ranked_and_unknown_is_never_up(city: Any) -> None:
    out = await ask(city, kind="camera")
    by_id = {s.school_id: s for s in out.schools}
    a, b, c = by_id["school-a"], by_id["school-b"], by_id["school-c"]
    assert (a.devices, a.online_rate, a.intact_rate) == (2, pytest.approx(46 / 48), pytest.approx(40 / 48))
    assert (b.online_rate, b.intact_rate, b.rank) == (1.0, 1.0, 1)
    assert (a.rank, a.name, a.district, a.timezone) == (2, "第一小学", "d1", "Asia/Shanghai")
    assert (c.online_rate, c.rank, c.coverage, c.unknown_s) == (None, None, 0.0, 24 * 3600)  # never heard from
    assert [s.school_id for s in out.schools] == ["school-b", "school-a", "school-c"]  # best first, unknown last
    assert [d.day for d in a.days] == ["2026-03-02"]
    # The city: 4 cameras, 96 device-hours, 72 known (school-c's 24 are unknown: reported, not counted).
    assert out.total.online_rate == pytest.approx(70 / 72) and out.total.coverage == pytest.approx(72 / 96)
    all_kinds = await ask(city)
    assert {s.school_id: s.devices for s in all_kinds.schools}["school-a"] == 3  # the gate too


async def test_a_district_and_a_scope_see_only_their_schools(city: Any) -> None:
    assert [s.school_id for s in (await ask(city, district="d2")).schools] == ["school-c"]
    guard = Principal("guard-b", authenticated=True, role="guard", scope=Scope(frozenset({"school-b"})))
    assert [s.school_id for s in (await ask(city, who=guard)).schools] == ["school-b"]
    assert (await ask(city, who=guard, school="school-a")).schools == []


async def test_a_range_that_is_backwards_or_too_long_is_refused(city: Any) -> None:
    with pytest.raises(Exception, match="start must be before end"):
        await ask(city, start=DAY, end=DAY)
    with pytest.raises(Exception, match="at most 400 days"):
        await ask(city, start=DAY - timedelta(days=401), end=DAY)
