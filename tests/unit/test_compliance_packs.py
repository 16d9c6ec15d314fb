"""Every rule of every bundled pack: pass, fail and unknown cases, on profiles and live observations.

Test ids name the seed file and clause (seed 002 = 镇江 2018, 003 = 永川 2021, 004 = 吉林 2012,
000 = 南通 2018, 001 = 常州 2020) or the standard a national rule comes from. The Zhenjiang inventory rules have
their cases in ``test_compliance_rules.py``; the check below counts both files.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.compliance.files import bundled_packs, load_pack
from hub.domain.compliance.checks import evaluate
from hub.domain.compliance.model import (
    DeviceState,
    Networked,
    Observed,
    PatrolKept,
    Platform,
    Point,
    Rule,
    SchoolProfile,
    SchoolType,
    Status,
)
from tests.unit import test_compliance_rules as zhenjiang

SHARED = Path(__file__).resolve().parents[3] / "shared"
RULES: dict[str, Rule] = {r.id: r for path in bundled_packs().values() for r in load_pack(path)}
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)

BOX = Point("box-1", "one_click_alarm", "guard_room")
GATE_CAM = Point("cam-gate", "camera", "main_gate", attributes={"resolution": "1920x1080", "retention_days": 30})
ROOM_CAM = Point("cam-room", "camera", "kindergarten_room")
POLICE = Networked(Platform.POLICE, "forwarding_test", at=date(2026, 10, 1))
LOCAL = Networked(Platform.LOCAL_VIDEO, "registration")
SCHOOL = SchoolProfile("s1", type=SchoolType.PRIMARY, boarding=False, points=(BOX, GATE_CAM))
KG = replace(SCHOOL, type=SchoolType.KINDERGARTEN)


def seen(*states: tuple[str, str, float | None, str | None], forwarded: dict[str, datetime] | None = None) -> Observed:
    """Devices as the hub sees them now: (id, availability, hours in that state, reason)."""
    devices = {
        d: DeviceState(a, NOW - timedelta(hours=h) if h is not None else None, reason) for d, a, h, reason in states
    }
    return Observed(NOW, devices, forwarded or {})


UP = seen(("box-1", "online", 5, None), ("cam-gate", "online", 5, None))
Case = tuple[str, str, SchoolProfile, Observed | None, list[tuple[str, Status]]]

CASES: list[Case] = [
    # GB/T 29315-2022 Table A.1: 门卫室 一键报警装置 应
    ("gbt29315-oca-in-guard-room", "NAT-OCA-01-GUARD-ROOM", SCHOOL, None,
     [("one_click_alarm@guard_room", Status.PASS)]),
    ("gbt29315-oca-elsewhere-only", "NAT-OCA-01-GUARD-ROOM",
     replace(SCHOOL, points=(replace(BOX, location="main_gate"), GATE_CAM)), None,
     [("one_click_alarm@guard_room", Status.FAIL)]),
    ("gbt29315-no-inventory", "NAT-OCA-01-GUARD-ROOM", replace(SCHOOL, points=()), None, [("s1", Status.UNKNOWN)]),
    # GB/T 29315-2022 Table A.1: 宿舍值班室 紧急报警装置 应 (boarding schools only)
    ("gbt29315-dorm-box", "NAT-OCA-01-DORM",
     replace(SCHOOL, boarding=True, points=(BOX, replace(BOX, device_id="box-2", location="dorm_duty_room"))), None,
     [("one_click_alarm@dorm_duty_room", Status.PASS)]),
    ("gbt29315-dorm-without-box", "NAT-OCA-01-DORM", replace(SCHOOL, boarding=True), None,
     [("one_click_alarm@dorm_duty_room", Status.FAIL)]),
    ("gbt29315-day-school-needs-no-dorm-box", "NAT-OCA-01-DORM", SCHOOL, None, []),
    ("gbt29315-boarding-not-declared", "NAT-OCA-01-DORM", replace(SCHOOL, boarding=None), None,
     [("s1", Status.UNKNOWN)]),
    # 2019 urgent notice: 一键式紧急报警…与属地公安机关联网
    ("notice2019-box-on-police", "NAT-OCA-03-POLICE", replace(SCHOOL, points=(replace(BOX, networked=(POLICE,)),)),
     None, [("device:box-1", Status.PASS)]),
    ("notice2019-box-not-networked", "NAT-OCA-03-POLICE", SCHOOL, None, [("device:box-1", Status.FAIL)]),
    ("notice2019-no-box", "NAT-OCA-03-POLICE", replace(SCHOOL, points=(GATE_CAM,)), None, [("s1", Status.UNKNOWN)]),
    # OCA-04: 每季度进行一次主动测试
    ("oca04-tested-in-the-quarter", "NAT-OCA-04-TESTED", replace(SCHOOL, points=(replace(BOX, networked=(POLICE,)),)),
     UP, [("device:box-1", Status.PASS)]),
    ("oca04-alarm-delivered-lately", "NAT-OCA-04-TESTED", SCHOOL,
     seen(forwarded={"box-1": NOW - timedelta(days=3)}), [("device:box-1", Status.PASS)]),
    ("oca04-test-too-old", "NAT-OCA-04-TESTED",
     replace(SCHOOL, points=(replace(BOX, networked=(replace(POLICE, at=date(2026, 5, 1)),)),)), UP,
     [("device:box-1", Status.FAIL)]),
    ("oca04-never-tested", "NAT-OCA-04-TESTED", SCHOOL, UP, [("device:box-1", Status.FAIL)]),
    ("oca04-no-hub-data", "NAT-OCA-04-TESTED", SCHOOL, None, [("s1", Status.UNKNOWN)]),
    # GB/T 29315-2022 Table A.1: 主出入口 video
    ("gbt29315-gate-camera", "NAT-VID-01-GATE", SCHOOL, None, [("camera@main_gate", Status.PASS)]),
    ("gbt29315-no-gate-camera", "NAT-VID-01-GATE", replace(SCHOOL, points=(BOX,)), None,
     [("camera@main_gate", Status.FAIL)]),
    ("gbt29315-gate-no-inventory", "NAT-VID-01-GATE", replace(SCHOOL, points=()), None, [("s1", Status.UNKNOWN)]),
    # GB/T 29315-2022 Table A.1: 幼儿园活动室、寝室 (kindergartens)
    ("gbt29315-kg-room-camera", "NAT-VID-01-KG-ROOMS", replace(KG, points=(BOX, ROOM_CAM)), None,
     [("camera@kindergarten_room", Status.PASS)]),
    ("gbt29315-kg-rooms-without-camera", "NAT-VID-01-KG-ROOMS", KG, None,
     [("camera@kindergarten_room", Status.FAIL)]),
    ("gbt29315-kg-rooms-type-unknown", "NAT-VID-01-KG-ROOMS", replace(KG, type=None), None, [("s1", Status.UNKNOWN)]),
    ("gbt29315-primary-needs-no-room-camera", "NAT-VID-01-KG-ROOMS", SCHOOL, None, []),
    # GB 50395-2007 9.0.1: 视频丢失检测示警 (a fault over 10 min)
    ("gb50395-camera-working", "NAT-VID-07-WORKING", SCHOOL, UP, [("device:cam-gate", Status.PASS)]),
    ("gb50395-camera-covered-an-hour", "NAT-VID-07-WORKING", SCHOOL, seen(("cam-gate", "degraded", 1, "covered")),
     [("device:cam-gate", Status.FAIL)]),
    ("gb50395-camera-covered-5-min-is-in-grace", "NAT-VID-07-WORKING", SCHOOL,
     seen(("cam-gate", "degraded", 5 / 60, "covered")), [("device:cam-gate", Status.PASS)]),
    ("gb50395-camera-never-heard-from", "NAT-VID-07-WORKING", SCHOOL, seen(("cam-gate", "unknown", 1, None)),
     [("device:cam-gate", Status.UNKNOWN)]),
    ("gb50395-no-hub-data", "NAT-VID-07-WORKING", SCHOOL, None, [("s1", Status.UNKNOWN)]),
    # GB/T 29315-2012: 系统出现故障时，应在24h内恢复功能
    ("gbt29315-down-2h-within-24h", "NAT-CON-03-REPAIR", SCHOOL,
     seen(("box-1", "offline", 2, "timeout"), ("cam-gate", "online", 1, None)),
     [("device:box-1", Status.PASS), ("device:cam-gate", Status.PASS)]),
    ("gbt29315-down-25h-overdue", "NAT-CON-03-REPAIR", SCHOOL,
     seen(("box-1", "offline", 25, "timeout"), ("cam-gate", "degraded", 30, "frozen")),
     [("device:box-1", Status.FAIL), ("device:cam-gate", Status.FAIL)]),
    ("gbt29315-repair-unknown-state", "NAT-CON-03-REPAIR", SCHOOL, seen(("cam-gate", "online", 1, None)),
     [("device:box-1", Status.UNKNOWN), ("device:cam-gate", Status.PASS)]),
    # GB/T 29315-2012: 保存时间应不少于30天
    ("gbt29315-kept-30-days", "NAT-VID-05-RETENTION", SCHOOL, None, [("device:cam-gate", Status.PASS)]),
    ("gbt29315-kept-7-days", "NAT-VID-05-RETENTION",
     replace(SCHOOL, points=(replace(GATE_CAM, attributes={"retention_days": 7}),)), None,
     [("device:cam-gate", Status.FAIL)]),
    ("gbt29315-retention-reported-by-camera", "NAT-VID-05-RETENTION",
     replace(SCHOOL, points=(replace(GATE_CAM, attributes={}),)),
     Observed(NOW, {"cam-gate": DeviceState("online", NOW, None, {"retention_days": 45})}),
     [("device:cam-gate", Status.PASS)]),
    ("gbt29315-retention-unknown", "NAT-VID-05-RETENTION", replace(SCHOOL, points=(ROOM_CAM,)), None,
     [("device:cam-room", Status.UNKNOWN)]),
    # VID-04: 回放清晰度不低于704×576像素
    ("vid04-1080p", "NAT-VID-04-RESOLUTION", SCHOOL, None, [("device:cam-gate", Status.PASS)]),
    ("vid04-cif-too-small", "NAT-VID-04-RESOLUTION",
     replace(SCHOOL, points=(replace(GATE_CAM, attributes={"resolution": "352x288"}),)), None,
     [("device:cam-gate", Status.FAIL)]),
    ("vid04-reported-main-stream", "NAT-VID-04-RESOLUTION", replace(SCHOOL, points=(ROOM_CAM,)),
     Observed(NOW, {"cam-room": DeviceState("online", NOW, None, {"main_width": 1280, "main_height": 720})}),
     [("device:cam-room", Status.PASS)]),
    ("vid04-not-known", "NAT-VID-04-RESOLUTION", replace(SCHOOL, points=(ROOM_CAM,)), None,
     [("device:cam-room", Status.UNKNOWN)]),
    # seed 002 二、2: 确保监控设备24小时正常工作
    ("seed002-2-camera-24h-working", "ZJ2018-CAM-24H", SCHOOL, UP, [("device:cam-gate", Status.PASS)]),
    ("seed002-2-camera-offline", "ZJ2018-CAM-24H", SCHOOL, seen(("cam-gate", "offline", 0.5, "timeout")),
     [("device:cam-gate", Status.FAIL)]),
    ("seed002-2-camera-state-unknown", "ZJ2018-CAM-24H", SCHOOL, seen(), [("device:cam-gate", Status.UNKNOWN)]),
    # seed 002 二、2: 高清视频监控
    ("seed002-2-hd-camera", "ZJ2018-CAM-HD", SCHOOL, None, [("device:cam-gate", Status.PASS)]),
    ("seed002-2-d1-camera-is-not-hd", "ZJ2018-CAM-HD",
     replace(SCHOOL, points=(replace(GATE_CAM, attributes={"resolution": "704x576"}),)), None,
     [("device:cam-gate", Status.FAIL)]),
    ("seed002-2-hd-unknown", "ZJ2018-CAM-HD", replace(SCHOOL, points=(ROOM_CAM,)), None,
     [("device:cam-room", Status.UNKNOWN)]),
    # seed 003 二、（一）3: 一键式紧急报警、视频监控、出入口控制和电子巡查等系统
    ("seed003-2-1-3-four-systems", "YC2021-FOUR-SYSTEMS",
     replace(SCHOOL, points=(BOX, GATE_CAM, Point("gate-1", "access_gate", "main_gate"),
                             Point("patrol-1", "patrol", "playground"))), None,
     [("one_click_alarm@*", Status.PASS), ("camera@*", Status.PASS), ("access_gate@*", Status.PASS),
      ("patrol@*", Status.PASS)]),
    ("seed003-2-1-3-no-access-or-patrol", "YC2021-FOUR-SYSTEMS", SCHOOL, None,
     [("one_click_alarm@*", Status.PASS), ("camera@*", Status.PASS), ("access_gate@*", Status.FAIL),
      ("patrol@*", Status.FAIL)]),
    ("seed003-2-1-3-no-inventory", "YC2021-FOUR-SYSTEMS", replace(SCHOOL, points=()), None, [("s1", Status.UNKNOWN)]),
    # seed 003 二、（一）3: 2021年底前，确保幼儿园一键式紧急报警、视频监控系统建设联网达标率达100%
    ("seed003-2-1-3-kg-all-networked", "YC2021-KG-NET-100",
     replace(KG, points=(replace(BOX, networked=(POLICE,)), replace(GATE_CAM, networked=(LOCAL,)))), None,
     [("device:box-1", Status.PASS), ("device:cam-gate", Status.PASS)]),
    ("seed003-2-1-3-kg-camera-not-networked", "YC2021-KG-NET-100",
     replace(KG, points=(replace(BOX, networked=(POLICE,)), GATE_CAM)), None,
     [("device:box-1", Status.PASS), ("device:cam-gate", Status.FAIL)]),
    ("seed003-2-1-3-kg-nothing-declared", "YC2021-KG-NET-100", replace(KG, points=()), None,
     [("s1", Status.UNKNOWN)]),
    ("seed003-2-1-3-not-a-kindergarten", "YC2021-KG-NET-100", SCHOOL, None, []),
    # seed 004 五、2: 全面建设与公安机关联网的一键式报警服务系统
    ("seed004-5-2-box-on-police", "JL2012-OCA-POLICE", replace(SCHOOL, points=(replace(BOX, networked=(POLICE,)),)),
     None, [("device:box-1", Status.PASS)]),
    ("seed004-5-2-box-local-only", "JL2012-OCA-POLICE", replace(SCHOOL, points=(replace(BOX, networked=(LOCAL,)),)),
     None, [("device:box-1", Status.FAIL)]),
    ("seed004-5-2-no-box", "JL2012-OCA-POLICE", replace(SCHOOL, points=(GATE_CAM,)), None, [("s1", Status.UNKNOWN)]),
    # seed 001 三、6: 加强技防装备管理，充分发挥技防装备的作用
    ("seed001-3-6-devices-working", "CZ2020-DEVICES-WORKING", SCHOOL, UP,
     [("device:box-1", Status.PASS), ("device:cam-gate", Status.PASS)]),
    ("seed001-3-6-box-offline-an-hour", "CZ2020-DEVICES-WORKING", SCHOOL,
     seen(("box-1", "offline", 1, "timeout"), ("cam-gate", "online", 1, None)),
     [("device:box-1", Status.FAIL), ("device:cam-gate", Status.PASS)]),
    ("seed001-3-6-no-hub-data", "CZ2020-DEVICES-WORKING", SCHOOL, None, [("s1", Status.UNKNOWN)]),
    # seed 001 三、7: 严格执行校园封闭式管理
    ("seed001-3-7-gate-controlled", "CZ2020-CLOSED-CAMPUS",
     replace(SCHOOL, points=(BOX, Point("gate-1", "access_gate", "main_gate"))), None,
     [("access_gate@main_gate", Status.PASS)]),
    ("seed001-3-7-open-gate", "CZ2020-CLOSED-CAMPUS", SCHOOL, None, [("access_gate@main_gate", Status.FAIL)]),
    ("seed001-3-7-no-inventory", "CZ2020-CLOSED-CAMPUS", replace(SCHOOL, points=()), None, [("s1", Status.UNKNOWN)]),
    # seed 000 二、2: 巩固提升校园警务室、“一键报警”…
    ("seed000-2-2-has-a-box", "NT2018-OCA", SCHOOL, None, [("one_click_alarm@*", Status.PASS)]),
    ("seed000-2-2-no-box", "NT2018-OCA", replace(SCHOOL, points=(GATE_CAM,)), None,
     [("one_click_alarm@*", Status.FAIL)]),
    ("seed000-2-2-no-inventory", "NT2018-OCA", replace(SCHOOL, points=()), None, [("s1", Status.UNKNOWN)]),
    # seed 000 二、2: 同步建立校园安防在线巡查监管系统; seed 002 二、2: 各地各校要建立校园安全网上巡查制度
    *[(f"{seed}-video-patrol-{name}", rule, SCHOOL, replace(UP, patrols=patrols), [("s1", status)])
      for seed, rule in (("seed000-2-2", "NT2018-VIDEO-PATROL"), ("seed002-2", "ZJ2018-VIDEO-PATROL"))
      for name, patrols, status in (
          ("kept", (PatrolKept("大门", 4, 4, 0), PatrolKept("区级抽查", 1, 1, 0)), Status.PASS),
          ("no-round-owed-yet", (PatrolKept("大门", 0, 0, 0),), Status.PASS),
          ("a-round-missed", (PatrolKept("大门", 4, 3, 1, NOW - timedelta(hours=3)),), Status.FAIL),
          ("no-plan", (), Status.FAIL),
          ("records-not-read", None, Status.UNKNOWN),
      )],
    ("seed002-2-video-patrol-no-hub-data", "ZJ2018-VIDEO-PATROL", SCHOOL, None, [("s1", Status.UNKNOWN)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule_id", "profile", "observed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(rule_id: str, profile: SchoolProfile, observed: Observed | None, expected: list[Any]) -> None:
    got = [(f.subject, f.status) for f in evaluate(profile, [RULES[rule_id]], observed, TODAY)]
    assert got == expected


def test_every_bundled_rule_has_a_pass_a_fail_and_an_unknown_case_and_its_quote_is_in_its_source() -> None:
    statuses: dict[str, set[Status]] = {}
    for case in [*CASES, *((c[0], c[1], c[2], None, c[3]) for c in zhenjiang.CASES)]:
        statuses.setdefault(case[1], set()).update(s for _, s in case[4])
    research = (SHARED / "research" / "compliance-rules.md").read_text(encoding="utf-8")
    for rule_id, rule in RULES.items():
        if rule_id != "ZJ2018-CAM-LOCAL":  # every camera is declared: no unknown case for "every camera"
            assert statuses.get(rule_id, set()) >= set(Status), f"{rule_id}: cases give {statuses.get(rule_id)}"
        if rule.source.document.startswith("seeds/"):
            text = (SHARED / rule.source.document).read_text(encoding="utf-8")
            assert rule.source.quote in text, f"{rule_id}: the quote is not in {rule.source.document}"
        else:  # a standard, as the research quotes it
            assert rule.source.quote in research, f"{rule_id}: the quote is not in research/compliance-rules.md"


def test_a_rule_in_force_from_a_deadline_binds_from_that_day_in_the_school_s_calendar() -> None:
    rule, profile = RULES["YC2021-KG-NET-100"], replace(KG, points=(BOX,))
    assert evaluate(profile, [rule], None, date(2021, 12, 31)) == []
    [finding] = evaluate(profile, [rule], None, date(2022, 1, 1))
    assert finding.status is Status.FAIL


def test_a_missed_patrol_round_says_how_many_and_since_when() -> None:
    missed = replace(UP, patrols=(PatrolKept("大门", 4, 2, 2, NOW - timedelta(hours=5)), PatrolKept("夜巡", 2, 2, 0)))
    [finding] = evaluate(SCHOOL, [RULES["ZJ2018-VIDEO-PATROL"]], missed, TODAY)
    assert finding.evidence == "2 of 6 rounds missed in the last 24 h (first 2026-11-27 23:00 UTC); plans: 大门, 夜巡"


def test_a_live_finding_says_what_is_wrong_and_since_when() -> None:
    observed = seen(("cam-gate", "degraded", 6, "covered"))
    [finding] = evaluate(SCHOOL, [RULES["ZJ2018-CAM-24H"]], observed, TODAY)
    assert finding.evidence == "degraded (covered) since 2026-11-27 22:00 UTC"
    [overdue] = evaluate(SCHOOL, [RULES["NAT-CON-03-REPAIR"]], seen(("box-1", "offline", 26, "timeout")), TODAY)[:1]
    assert overdue.evidence == "offline (timeout) for 26.0 h, over the 24 h to repair"
