"""Compliance findings through the hub: its profiles file judged by the packs, scoped to the caller."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.api.compliance import findings
from hub.app import build_services
from hub.auth.principal import Principal
from hub.auth.roles import Scope
from tests.hub.support import add_patrol_plan, hub_settings, unique_prefix

PROFILES = """schools:
  - school_id: kg-1
    type: kindergarten
    pickup_cards: false
    perimeter: [{id: north, wall_height_m: 1.5, fence_zone: "fence-1:1"}, {id: south, wall_height_m: 1.8}]
  - school_id: ps-2
    type: primary
    points:
      - device_id: cam-gate
        kind: camera
        location: main_gate
        networked: [{platform: local_video, how: registration}]
"""


def test_findings_are_listed_with_citations_and_scoped(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(PROFILES, encoding="utf-8")
    settings = hub_settings(
        "mqtt://127.0.0.1:1",
        f"sqlite:///{tmp_path / 'hub.db'}",
        unique_prefix(),
        compliance={"profiles": str(profiles), "packs": ["zhenjiang-2018"]},
    )
    svc = build_services(settings)
    try:
        with svc.sessions() as session:
            failing = findings(svc=svc, who=Principal("it"), session=session, school=None, status="fail")
        assert {(f.school_id, f.rule_id, f.subject) for f in failing} == {
            ("kg-1", "ZJ2018-FENCE-LOW-WALL", "segment:south"),  # 1.8 m and no fence zone
            ("kg-1", "ZJ2018-KG-ACCESS", "kg-1"),
            ("ps-2", "ZJ2018-GATE-CAM-POLICE", "device:cam-gate"),  # the gate camera reaches only the local platform
            ("kg-1", "ZJ2018-VIDEO-PATROL", "kg-1"),  # no video patrol plan looks at their cameras
            ("ps-2", "ZJ2018-VIDEO-PATROL", "ps-2"),
        }
        gate = next(f for f in failing if f.rule_id == "ZJ2018-GATE-CAM-POLICE")
        assert gate.source["quote"] == "学校大门口监控接入公安平台" and gate.severity == "critical"
        with svc.sessions() as session:
            unknown = findings(svc=svc, who=Principal("it"), session=session, school="ps-2", status="unknown")
            guard = Principal("g", authenticated=True, role="guard", scope=Scope(frozenset({"ps-2"})))
            seen = {f.school_id for f in findings(svc=svc, who=guard, session=session, school=None, status=None)}
        assert [(f.rule_id, f.missing) for f in unknown] == [
            ("ZJ2018-FENCE-LOW-WALL", ["perimeter"]),
            ("ZJ2018-CAM-24H", ["state of cam-gate"]),  # the hub never heard from it
            ("ZJ2018-CAM-HD", ["points.cam-gate.attributes.resolution"]),
        ]
        assert seen == {"ps-2"}
    finally:
        svc.sessions.kw["bind"].dispose()


def test_a_bad_profiles_file_stops_the_hub_with_one_line(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("schools:\n  - {school_id: s, perimeter: [{id: n, wall_height_m: tall}]}\n", encoding="utf-8")
    config = tmp_path / "hub.yaml"
    config.write_text(
        f"database: {{url: 'sqlite:///{tmp_path / 'hub.db'}'}}\ncompliance: {{profiles: '{profiles}'}}\n",
        encoding="utf-8",
    )
    cmd = [sys.executable, "-m", "campusguard.cli", "hub", "--config", str(config)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "schools.0.perimeter.0.wall_height_m" in done.stderr


def test_networked_and_compliance_rates_follow_the_profiles_and_the_devices(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from hub.api.compliance import compliance_kpis
    from hub.db.models import Device, School

    def kpis(profiles_text: str, name: str) -> Any:
        profiles = tmp_path / name
        profiles.write_text(profiles_text, encoding="utf-8")
        settings = hub_settings(
            "mqtt://127.0.0.1:1",
            f"sqlite:///{tmp_path / 'hub.db'}",
            unique_prefix(),
            compliance={"profiles": str(profiles), "packs": ["zhenjiang-2018"]},
        )
        svc = build_services(settings)
        try:
            with svc.sessions() as session:
                if session.get(School, "ps-2") is None:
                    now = datetime.now(UTC)
                    session.add_all([School(id="ps-2", first_seen=now), School(id="kg-1", first_seen=now)])
                    add_patrol_plan(session, "ps-2", "cam-gate", now)  # ps-2 keeps its video patrol
                    session.add(
                        Device(
                            school_id="ps-2",
                            id="cam-gate",
                            gateway_id="gw",
                            kind="camera",
                            availability="online",
                            since=now,
                        )
                    )
                    session.commit()
                return compliance_kpis(svc=svc, who=Principal("it"), session=session, district=None, school=None)
        finally:
            svc.sessions.kw["bind"].dispose()

    out = kpis(PROFILES, "profiles.yaml")
    by_id = {s.school_id: s for s in out.schools}
    assert (by_id["ps-2"].required, by_id["ps-2"].networked, by_id["ps-2"].compliant) == (1, 0, False)
    assert by_id["kg-1"].compliant is False and by_id["kg-1"].networking_rate is None  # fails, and no camera declared
    assert (out.compliance_rate, out.networking_rate, out.compliant) == (0.0, 0.0, 0)
    fixed = PROFILES.replace(
        "networked: [{platform: local_video, how: registration}]",
        "networked: [{platform: local_video, how: registration}, {platform: police, how: forwarding_test}]",
    ).replace("type: primary", "type: primary\n    perimeter: [{id: all, wall_height_m: 2.5}]")
    fixed = fixed.replace("location: main_gate", "location: main_gate\n        attributes: {resolution: 1920x1080}")
    out = kpis(fixed, "fixed.yaml")  # the gate camera now reaches the police, the wall is surveyed
    ps2 = next(s for s in out.schools if s.school_id == "ps-2")
    assert (ps2.networked, ps2.networking_rate, ps2.compliant, ps2.reasons) == (1, 1.0, True, [])
    assert (out.compliant, out.not_compliant, out.compliance_rate) == (1, 1, 0.5)


def test_each_district_judges_by_its_own_packs_with_overrides_and_live_states(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from hub.db.models import Device, School

    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "schools:\n"
        "  - school_id: zj-1\n    type: primary\n    perimeter: [{id: all, wall_height_m: 2.5}]\n"
        "    points:\n"
        "      - {device_id: cam, kind: camera, location: main_gate, attributes: {resolution: 1920x1080},\n"
        "         networked: [{platform: police, how: registration}, {platform: local_video, how: registration}]}\n"
        "  - school_id: yc-1\n    type: kindergarten\n    packs: [yongchuan-2021]\n"
        "    points: [{device_id: cam, kind: camera, location: main_gate}]\n",
        encoding="utf-8",
    )
    settings = hub_settings(
        "mqtt://127.0.0.1:1",
        f"sqlite:///{tmp_path / 'hub.db'}",
        unique_prefix(),
        districts=[{"id": "zj", "packs": ["zhenjiang-2018"]}, {"id": "yc"}],
        schools=[{"id": "zj-1", "district": "zj"}, {"id": "yc-1", "district": "yc"}],
        compliance={
            "profiles": str(profiles),
            "overrides": [
                {"rule": "ZJ2018-CAM-24H", "district": "zj", "params": {"grace_s": 7200}, "reason": "夜间补光调试"}
            ],
        },
    )
    svc = build_services(settings)
    now = datetime.now(UTC)
    try:
        with svc.sessions() as session:
            session.add_all([School(id="zj-1", first_seen=now), School(id="yc-1", first_seen=now)])
            covered = Device(school_id="zj-1", id="cam", gateway_id="gw", kind="camera", availability="degraded",
                             reason="covered", since=now - timedelta(hours=1))  # fmt: skip
            session.add(covered)
            session.commit()

            def judged() -> dict[tuple[str, str], str]:
                rows = findings(svc=svc, who=Principal("it"), session=session, school=None, status=None)
                return {(f.school_id, f.rule_id): f.status for f in rows}

            found = judged()
            # Each school is judged by its district's packs, or its own: never by another region's.
            zhenjiang = ("FENCE-LOW-WALL", "GATE-CAM-POLICE", "CAM-LOCAL", "CAM-24H", "CAM-HD", "VIDEO-PATROL")
            assert {r for s, r in found if s == "zj-1"} == {f"ZJ2018-{r}" for r in zhenjiang}
            assert {r for s, r in found if s == "yc-1"} == {"YC2021-FOUR-SYSTEMS", "YC2021-KG-NET-100"}
            # Covered for 1 h: within the district's 2 h of grace (an override, with its reason shown).
            assert found[("zj-1", "ZJ2018-CAM-24H")] == "pass"
            row = next(f for f in findings(svc=svc, who=Principal("it"), session=session, school="zj-1", status=None)
                       if f.rule_id == "ZJ2018-CAM-24H")  # fmt: skip
            assert row.overridden == "夜间补光调试"
            covered.since = now - timedelta(hours=3)
            session.commit()
            assert judged()[("zj-1", "ZJ2018-CAM-24H")] == "fail"
            covered.availability, covered.reason = "online", None
            session.commit()
            assert judged()[("zj-1", "ZJ2018-CAM-24H")] == "pass"  # uncovered: the finding clears
    finally:
        svc.sessions.kw["bind"].dispose()


def test_a_pack_or_override_that_names_nothing_stops_the_hub(tmp_path: Path) -> None:
    from hub.compliance.files import ComplianceFileError, configured

    base = {"mqtt_url": "mqtt://127.0.0.1:1", "db": f"sqlite:///{tmp_path / 'hub.db'}"}
    bad_pack = hub_settings(
        base["mqtt_url"], base["db"], unique_prefix(), districts=[{"id": "d", "packs": ["atlantis"]}]
    )
    with pytest.raises(ComplianceFileError, match=r"^districts\.d\.packs: no pack 'atlantis'"):
        configured(bad_pack)
    override = {"rule": "NO-SUCH-RULE", "params": {"x": 1}, "reason": "r"}
    bad_rule = hub_settings(base["mqtt_url"], base["db"], unique_prefix(), compliance={"overrides": [override]})
    with pytest.raises(ComplianceFileError, match=r"compliance\.overrides\.0\.rule: no rule 'NO-SUCH-RULE'"):
        configured(bad_rule)


def test_the_ledger_keeps_when_each_finding_began_its_deadline_and_the_past(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from hub.db.models import Device, School

    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "schools:\n  - school_id: s1\n    type: primary\n    packs: [zhenjiang-2018]\n"
        "    perimeter: [{id: all, wall_height_m: 2.5}]\n"
        "    points: [{device_id: cam, kind: camera, location: playground, attributes: {resolution: 1920x1080},\n"
        "              networked: [{platform: local_video, how: registration}]}]\n",
        encoding="utf-8",
    )
    clock = [datetime(2026, 11, 28, 1, 0, tzinfo=UTC)]
    settings = hub_settings(
        "mqtt://127.0.0.1:1",
        f"sqlite:///{tmp_path / 'hub.db'}",
        unique_prefix(),
        compliance={"profiles": str(profiles)},
    )
    svc = build_services(settings, now=lambda: clock[0])
    watch = svc.compliance
    assert watch is not None
    try:
        with svc.sessions.begin() as session:
            session.add(School(id="s1", first_seen=clock[0]))
            session.add(Device(school_id="s1", id="cam", gateway_id="gw", kind="camera", availability="online",
                               since=clock[0]))  # fmt: skip
        first = watch.evaluate(None)
        assert (first.begun, first.ended) == (6, 0)  # the six Zhenjiang findings about this primary school
        assert watch.evaluate(None) == type(first)(0, 0)  # nothing changed: nothing recorded

        covered_at = clock[0] = clock[0] + timedelta(hours=1)
        with svc.sessions.begin() as session:
            cam = session.get(Device, ("s1", "cam"))
            assert cam is not None
            cam.availability, cam.reason, cam.since = "degraded", "covered", covered_at
        clock[0] += timedelta(minutes=5)  # past the rule's 60 s of grace
        changed = watch.evaluate({"s1"})
        assert (changed.begun, changed.ended) == (1, 1)  # ZJ2018-CAM-24H: pass → fail

        def listed(**params: object) -> dict[str, Any]:
            with svc.sessions() as session:
                rows = findings(svc=svc, who=Principal("it"), session=session, school=None, status=None, **params)
            return {f.rule_id: f for f in rows}

        failing = listed()["ZJ2018-CAM-24H"]
        assert failing.status == "fail" and failing.since == clock[0]
        assert failing.deadline == clock[0] + timedelta(hours=24) and not failing.overdue
        clock[0] += timedelta(hours=25)
        assert listed()["ZJ2018-CAM-24H"].overdue  # still covered a day later: past the repair deadline
        # The past as it was: an hour after start the camera passed; ten minutes after the cover it failed.
        assert listed(at=covered_at)["ZJ2018-CAM-24H"].status == "pass"
        assert listed(at=covered_at + timedelta(minutes=10))["ZJ2018-CAM-24H"].status == "fail"
        assert listed(at=datetime(2026, 11, 27, tzinfo=UTC)) == {}  # before the ledger began
    finally:
        svc.sessions.kw["bind"].dispose()


async def test_a_failed_judging_pass_is_tried_again_with_the_same_schools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from hub.compliance import watch as watch_module

    monkeypatch.setattr(watch_module, "RETRY_S", 0.05)
    settings = hub_settings(
        "mqtt://127.0.0.1:1",
        f"sqlite:///{tmp_path / 'hub.db'}",
        unique_prefix(),
        compliance={"settle_s": 0, "evaluate_every_s": 3600},
    )
    svc = build_services(settings)
    watch = svc.compliance
    assert watch is not None
    calls: list[set[str] | None] = []

    def flaky(schools: set[str] | None) -> Any:
        calls.append(None if schools is None else set(schools))
        if len(calls) == 2:
            raise RuntimeError("database is locked")  # the pass after the first change fails once
        return None

    monkeypatch.setattr(watch, "evaluate", flaky)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await asyncio.sleep(0.05)  # the first, full pass
        watch.mark("school-x")
        for _ in range(100):
            if len(calls) >= 3:
                break
            await asyncio.sleep(0.02)
        assert calls[:3] == [None, {"school-x"}, {"school-x"}]  # the change is judged again, not lost
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        svc.sessions.kw["bind"].dispose()


def test_targets_show_each_district_s_standing_before_and_after_the_deadline(tmp_path: Path) -> None:
    from hub.api.compliance import compliance_targets

    future = tmp_path / "future.yaml"
    future.write_text(
        "pack: future\nrules:\n"
        "  - id: FUTURE-OCA-POLICE\n    text_zh: 一键报警 2099 年前接入公安\n"
        "    text_en: boxes on the police platform by 2099\n"
        "    severity: major\n    check: networked_to_platform\n    in_force_from: 2100-01-01\n"
        "    params: {kind: one_click_alarm, platform: police}\n"
        "    source: {document: test, clause: '1', quote: q, confidence: INF}\n",
        encoding="utf-8",
    )
    box = "{device_id: box, kind: one_click_alarm, location: guard_room%s}"
    on_police = ", networked: [{platform: police, how: registration}]"
    cam = "{device_id: cam, kind: camera, location: main_gate, networked: [{platform: local_video, how: registration}]}"
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "schools:\n"
        f"  - {{school_id: kg-1, type: kindergarten, points: [{box % on_police}, {cam}]}}\n"  # both networked
        f"  - {{school_id: kg-2, type: kindergarten, points: [{box % ''}]}}\n"  # the box is not networked
        "  - {school_id: kg-3, type: kindergarten}\n"  # nothing declared: unknown, not met
        f"  - {{school_id: ps-4, type: primary, points: [{box % on_police}]}}\n",  # not a kindergarten
        encoding="utf-8",
    )
    settings = hub_settings(
        "mqtt://127.0.0.1:1",
        f"sqlite:///{tmp_path / 'hub.db'}",
        unique_prefix(),
        districts=[{"id": "east"}, {"id": "west"}],
        schools=[
            {"id": "kg-1", "district": "east"}, {"id": "kg-2", "district": "east"},
            {"id": "kg-3", "district": "west"}, {"id": "ps-4", "district": "west"},
        ],
        compliance={"profiles": str(profiles), "packs": ["yongchuan-2021", str(future)]},
    )  # fmt: skip
    svc = build_services(settings)
    try:
        with svc.sessions() as session:
            found = {t.rule_id: t for t in compliance_targets(svc=svc, who=Principal("it"), session=session)}
            east_only = compliance_targets(svc=svc, who=Principal("it"), session=session, district="east")
        kg = found["YC2021-KG-NET-100"]
        assert (str(kg.deadline), kg.past) == ("2021-12-31", True)
        by = {d.district: d for d in kg.districts}
        assert (by["east"].bound, by["east"].met, by["east"].missed, by["east"].rate) == (2, 1, 1, 0.5)
        assert by["east"].missed_schools == ["kg-2"]
        assert (by["west"].bound, by["west"].unknown, by["west"].rate) == (1, 1, 0.0)  # kg-3 unknown; ps-4 not bound
        assert (kg.total.bound, kg.total.met) == (3, 1)
        early = found["FUTURE-OCA-POLICE"]  # judged before its deadline too: progress, not yet late
        assert early.past is False and (early.total.bound, early.total.met, early.total.missed) == (4, 2, 1)
        assert {d.district for t in east_only for d in t.districts} == {"east"}
    finally:
        svc.sessions.kw["bind"].dispose()
