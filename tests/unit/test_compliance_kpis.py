"""联网率 and 达标率 from findings and device states: table cases, unknown never counted as pass."""

import pytest

from hub.domain.compliance.checks import evaluate
from hub.domain.compliance.kpis import school_kpis, total, unprofiled
from hub.domain.compliance.model import Networked, Platform, Point, Rule, SchoolProfile, Segment, Source

SRC = Source("seeds/002_ae54aaaade87ffaf.txt", "二、2", "学校大门口监控接入公安平台", "LOCAL")
RULES = [
    Rule("GATE", "大门监控接入公安", "gate to police", "critical", SRC, "networked_to_platform",
         params={"kind": "camera", "location": "main_gate", "platform": "police"}),
    Rule("LOCAL", "监控接入视频平台", "cameras to local", "major", SRC, "networked_to_platform",
         params={"kind": "camera", "location": "*", "platform": "local_video"}),
    Rule("WALL", "低墙电子围栏", "low walls fenced", "major", SRC, "low_wall_fence", params={"min_height_m": 2.0}),
]  # fmt: skip
CHECKS = {r.id: r.check for r in RULES}
POLICE, LOCAL = Networked(Platform.POLICE, "forwarding_test"), Networked(Platform.LOCAL_VIDEO, "registration")
GATE = Point("cam-gate", "camera", "main_gate", networked=(POLICE, LOCAL))
YARD = Point("cam-yard", "camera", "playground", networked=(LOCAL,))
WALL = (Segment("all", 2.4),)
UP = {"cam-gate": "online", "cam-yard": "degraded", "panic-1": "online"}


def kpis(points: tuple[Point, ...], states: dict[str, str] = UP, perimeter: tuple[Segment, ...] | None = WALL):  # type: ignore[no-untyped-def]
    profile = SchoolProfile("s1", perimeter=perimeter, points=points)
    return school_kpis(profile, evaluate(profile, RULES), CHECKS, states)


@pytest.mark.parametrize(
    ("points", "states", "perimeter", "expected"),
    [
        ((GATE, YARD), UP, WALL, (2, 2, True, ())),  # a covered (degraded) camera still answers: 达标
        ((Point("cam-gate", "camera", "main_gate", networked=(LOCAL,)), YARD), UP, WALL,
         (2, 1, False, ("GATE device:cam-gate",))),
        ((GATE, YARD), {**UP, "cam-yard": "offline"}, WALL, (2, 2, False, ("cam-yard offline",))),
        ((GATE, YARD), {"cam-gate": "online"}, WALL, (2, 2, None, ("cam-yard never heard from",))),
        ((GATE, YARD), UP, None, (2, 2, None, ("WALL s1: perimeter",))),
        ((GATE, YARD, Point("panic-1", "one_click_alarm", "guard_room", required_platform=Platform.POLICE)), UP, WALL,
         (3, 2, False, ("panic-1 not networked to police",))),  # a box that must reach 110 and does not
    ],
    ids=["all-pass", "gate-not-police", "device-offline", "never-heard", "rule-unknown", "required-platform-missing"],
)  # fmt: skip
def test_a_school_s_kpis(points, states, perimeter, expected) -> None:  # type: ignore[no-untyped-def]
    k = kpis(points, states, perimeter)
    required, networked, compliant, reasons = expected
    assert (k.required, k.networked, k.compliant) == (required, networked, compliant)
    if reasons:
        assert k.reasons == reasons
    assert k.networking_rate == networked / required


def test_no_required_point_gives_no_networking_rate_and_unknown_is_never_compliant() -> None:
    k = kpis((), {}, WALL)
    assert k.networking_rate is None and k.compliant is None  # no camera declared: the rules cannot judge
    t = total([kpis((GATE, YARD)), kpis((GATE, YARD), {**UP, "cam-yard": "offline"}), k, unprofiled("s9")])
    assert (t.schools, t.compliant, t.not_compliant, t.unknown) == (4, 1, 1, 2)
    assert t.compliance_rate == 0.25 and t.networking_rate == 4 / 4
    assert total([]).compliance_rate is None and total([]).networking_rate is None
