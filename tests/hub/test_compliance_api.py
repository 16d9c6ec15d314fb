"""Compliance findings through the hub: its profiles file judged by the packs, scoped to the caller."""

import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.api.compliance import findings
from hub.app import build_services
from hub.auth.principal import Principal
from hub.auth.roles import Scope
from tests.hub.support import hub_settings, unique_prefix

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
        compliance={"profiles": str(profiles)},
    )
    svc = build_services(settings)
    try:
        failing = findings(svc=svc, who=Principal("it"), school=None, status="fail")
        assert {(f.school_id, f.rule_id, f.subject) for f in failing} == {
            ("kg-1", "ZJ2018-FENCE-LOW-WALL", "segment:south"),  # 1.8 m and no fence zone
            ("kg-1", "ZJ2018-KG-ACCESS", "kg-1"),
            ("ps-2", "ZJ2018-GATE-CAM-POLICE", "device:cam-gate"),  # the gate camera reaches only the local platform
        }
        gate = next(f for f in failing if f.rule_id == "ZJ2018-GATE-CAM-POLICE")
        assert gate.source["quote"] == "学校大门口监控接入公安平台" and gate.severity == "critical"
        unknown = findings(svc=svc, who=Principal("it"), school="ps-2", status="unknown")
        assert [(f.rule_id, f.missing) for f in unknown] == [("ZJ2018-FENCE-LOW-WALL", ["perimeter"])]
        guard = Principal("g", authenticated=True, role="guard", scope=Scope(frozenset({"ps-2"})))
        assert {f.school_id for f in findings(svc=svc, who=guard, school=None, status=None)} == {"ps-2"}
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
            compliance={"profiles": str(profiles)},
        )
        svc = build_services(settings)
        try:
            with svc.sessions() as session:
                if session.get(School, "ps-2") is None:
                    now = datetime.now(UTC)
                    session.add_all([School(id="ps-2", first_seen=now), School(id="kg-1", first_seen=now)])
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
    out = kpis(fixed, "fixed.yaml")  # the gate camera now reaches the police, the wall is surveyed
    ps2 = next(s for s in out.schools if s.school_id == "ps-2")
    assert (ps2.networked, ps2.networking_rate, ps2.compliant, ps2.reasons) == (1, 1.0, True, [])
    assert (out.compliant, out.not_compliant, out.compliance_rate) == (1, 1, 0.5)
