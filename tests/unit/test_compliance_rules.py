"""Every rule of the bundled packs: pass, fail and unknown cases, without a database.

Test ids name the seed file and clause a rule comes from (seed 002 = 镇江 2018, 二、2).
"""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from hub.compliance.files import ComplianceFileError, bundled_packs, load_pack, load_profiles
from hub.domain.compliance.checks import evaluate
from hub.domain.compliance.model import (
    Networked,
    Platform,
    Point,
    Rule,
    SchoolProfile,
    SchoolType,
    Segment,
    Status,
)

RULES = {r.id: r for r in load_pack(bundled_packs()["zhenjiang-2018"])}
GATE_CAM = Point("cam-gate", "camera", "main_gate", Platform.POLICE)
YARD_CAM = Point("cam-yard", "camera", "playground", Platform.LOCAL_VIDEO)
POLICE = Networked(Platform.POLICE, "forwarding_test")
LOCAL = Networked(Platform.LOCAL_VIDEO, "registration")
BASE = SchoolProfile("s1", type=SchoolType.PRIMARY, pickup_cards=False)


def verdicts(rule_id: str, profile: SchoolProfile) -> list[tuple[str, Status]]:
    return [(f.subject, f.status) for f in evaluate(profile, [RULES[rule_id]])]


CASES = [
    # seed 002 二、2: 校园低于2米的围墙要架设电子围栏
    ("seed002-2-low-wall-with-fence", "ZJ2018-FENCE-LOW-WALL",
     replace(BASE, perimeter=(Segment("north", 1.6, "fence-1:2"), Segment("south", 2.4))),
     [("segment:north", Status.PASS), ("segment:south", Status.PASS)]),
    ("seed002-2-low-wall-without-fence", "ZJ2018-FENCE-LOW-WALL",
     replace(BASE, perimeter=(Segment("east", 1.99),)), [("segment:east", Status.FAIL)]),
    ("seed002-2-exactly-2m-needs-no-fence", "ZJ2018-FENCE-LOW-WALL",
     replace(BASE, perimeter=(Segment("east", 2.0),)), [("segment:east", Status.PASS)]),
    ("seed002-2-height-not-surveyed", "ZJ2018-FENCE-LOW-WALL",
     replace(BASE, perimeter=(Segment("west", None),)), [("segment:west", Status.UNKNOWN)]),
    ("seed002-2-perimeter-not-surveyed", "ZJ2018-FENCE-LOW-WALL", BASE, [("s1", Status.UNKNOWN)]),
    ("seed002-2-perimeter-empty", "ZJ2018-FENCE-LOW-WALL", replace(BASE, perimeter=()), [("s1", Status.UNKNOWN)]),
    # seed 002 二、2: 幼儿园应建立门禁系统或实行接送卡制度
    ("seed002-2-kindergarten-with-gate", "ZJ2018-KG-ACCESS",
     replace(BASE, type=SchoolType.KINDERGARTEN, points=(Point("gate-1", "access_gate", "main_gate"),)),
     [("s1", Status.PASS)]),
    ("seed002-2-kindergarten-with-cards", "ZJ2018-KG-ACCESS",
     replace(BASE, type=SchoolType.KINDERGARTEN, pickup_cards=True), [("s1", Status.PASS)]),
    ("seed002-2-kindergarten-with-neither", "ZJ2018-KG-ACCESS",
     replace(BASE, type=SchoolType.KINDERGARTEN, pickup_cards=False), [("s1", Status.FAIL)]),
    ("seed002-2-kindergarten-cards-not-declared", "ZJ2018-KG-ACCESS",
     replace(BASE, type=SchoolType.KINDERGARTEN, pickup_cards=None), [("s1", Status.UNKNOWN)]),
    ("seed002-2-not-a-kindergarten", "ZJ2018-KG-ACCESS", BASE, []),
    ("seed002-2-type-not-declared", "ZJ2018-KG-ACCESS", replace(BASE, type=None), [("s1", Status.UNKNOWN)]),
    # seed 002 二、2: 学校大门口监控接入公安平台
    ("seed002-2-gate-camera-on-police-platform", "ZJ2018-GATE-CAM-POLICE",
     replace(BASE, points=(replace(GATE_CAM, networked=(POLICE,)), YARD_CAM)), [("device:cam-gate", Status.PASS)]),
    ("seed002-2-gate-camera-on-local-platform-only", "ZJ2018-GATE-CAM-POLICE",
     replace(BASE, points=(replace(GATE_CAM, networked=(LOCAL,)),)), [("device:cam-gate", Status.FAIL)]),
    ("seed002-2-no-gate-camera-declared", "ZJ2018-GATE-CAM-POLICE",
     replace(BASE, points=(YARD_CAM,)), [("s1", Status.UNKNOWN)]),
    # seed 002 二、2: 其他监控全部接入当地的视频监控平台
    ("seed002-2-every-camera-on-local-platform", "ZJ2018-CAM-LOCAL",
     replace(BASE, points=(replace(GATE_CAM, networked=(POLICE, LOCAL)), replace(YARD_CAM, networked=(LOCAL,)))),
     [("device:cam-gate", Status.PASS), ("device:cam-yard", Status.PASS)]),
    ("seed002-2-one-camera-not-on-local-platform", "ZJ2018-CAM-LOCAL",
     replace(BASE, points=(replace(GATE_CAM, networked=(POLICE,)), replace(YARD_CAM, networked=(LOCAL,)))),
     [("device:cam-gate", Status.FAIL), ("device:cam-yard", Status.PASS)]),
]  # fmt: skip


@pytest.mark.parametrize(("rule_id", "profile", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(rule_id: str, profile: SchoolProfile, expected: list[tuple[str, Status]]) -> None:
    assert verdicts(rule_id, profile) == expected


# Every rule's pass, fail and unknown cases and its quote: tests/unit/test_compliance_packs.py.


def test_an_unknown_finding_says_what_data_is_missing() -> None:
    [finding] = evaluate(replace(BASE, perimeter=(Segment("west", None),)), [RULES["ZJ2018-FENCE-LOW-WALL"]])
    assert finding.missing == ("perimeter.west.wall_height_m",)
    [finding] = evaluate(replace(BASE, type=None), [RULES["ZJ2018-KG-ACCESS"]])
    assert finding.missing == ("type",)


def rule_yaml(severity: str = "major", check: str = "low_wall_fence") -> str:
    source = "source: {document: d, clause: c, quote: q, confidence: LOCAL}"
    return f"pack: p\nrules:\n  - {{id: X, text_zh: a, text_en: a, severity: {severity}, check: {check}, {source}}}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pack: p\nrules: []\n", r"rules: List should have at least 1 item"),
        (rule_yaml(severity="high"), r"rules\.0\.severity: Input should be"),
        (rule_yaml(check="nothing"), r"rules\.0\.check: unknown check 'nothing'"),
        ("pack: [\n", r"not YAML"),
    ],
)
def test_a_bad_pack_names_the_file_field_and_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad-pack.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ComplianceFileError, match=rf"bad-pack\.yaml: .*{message}"):
        load_pack(path)


def test_profiles_load_and_a_bad_one_names_school_and_field(tmp_path: Path) -> None:
    good = tmp_path / "profiles.yaml"
    good.write_text(
        "schools:\n"
        "  - school_id: kg-1\n    type: kindergarten\n    pickup_cards: false\n"
        "    perimeter: [{id: north, wall_height_m: 1.5}]\n"
        "    points:\n      - {device_id: cam-gate, kind: camera, location: main_gate,\n"
        "         networked: [{platform: police, how: attested, by: 王老师, at: 2026-11-01}]}\n",
        encoding="utf-8",
    )
    [profile] = load_profiles(good)
    findings = {f.rule_id: f.status for f in evaluate(profile, list(RULES.values()))}
    assert findings == {
        "ZJ2018-FENCE-LOW-WALL": Status.FAIL,
        "ZJ2018-KG-ACCESS": Status.FAIL,
        "ZJ2018-GATE-CAM-POLICE": Status.PASS,
        "ZJ2018-CAM-LOCAL": Status.FAIL,
        "ZJ2018-CAM-24H": Status.UNKNOWN,  # no hub: whether the camera works is not known
        "ZJ2018-CAM-HD": Status.UNKNOWN,  # no resolution declared, none reported
        "ZJ2018-VIDEO-PATROL": Status.UNKNOWN,  # no hub: no patrol records
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("schools:\n  - school_id: s\n    perimeter: [{id: n, wall_height_m: -1}]\n", encoding="utf-8")
    with pytest.raises(
        ComplianceFileError, match=r"bad\.yaml: schools\.0\.perimeter\.0\.wall_height_m: Input should be"
    ):
        load_profiles(bad)
    bad.write_text("schools:\n  - school_id: s\n    points: [{device_id: c, kind: camera, location: gate}]\n")
    with pytest.raises(ComplianceFileError, match=r"schools\.0\.points\.0\.location: .*unknown location 'gate'"):
        load_profiles(bad)


def test_a_rule_is_plain_data() -> None:
    rule = RULES["ZJ2018-FENCE-LOW-WALL"]
    assert isinstance(rule, Rule) and rule.params == {"min_height_m": 2.0} and rule.severity == "major"


def cli(*args: str) -> "subprocess.CompletedProcess[str]":
    cmd = [sys.executable, "-m", "campusguard.cli", "compliance", "check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_prints_findings_with_citations_and_says_by_its_exit_code(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "schools:\n"
        "  - {school_id: ok, type: primary, perimeter: [{id: n, wall_height_m: 2.5}],\n"
        "     points: [{device_id: c, kind: camera, location: main_gate,\n"
        "               networked: [{platform: police, how: registration},\n"
        "                           {platform: local_video, how: registration}]}]}\n"
        "  - {school_id: unsure, type: primary, points: [{device_id: c, kind: camera, location: main_gate,\n"
        "     networked: [{platform: police, how: registration}, {platform: local_video, how: registration}]}]}\n"
        "  - {school_id: bad, type: kindergarten, pickup_cards: false, perimeter: [{id: n, wall_height_m: 1.2}]}\n",
        encoding="utf-8",
    )
    zj = ("--pack", "zhenjiang-2018")
    ok = cli("--profiles", str(profiles), "--school", "ok", *zj)
    # Without a hub, whether devices work, what cameras report and the patrols are unknown.
    assert ok.returncode == 3, ok.stdout
    assert {line.split("\t")[2] for line in ok.stdout.splitlines() if "\tunknown\t" in line} == {
        "ZJ2018-CAM-24H",
        "ZJ2018-CAM-HD",
        "ZJ2018-VIDEO-PATROL",
    }
    inventory = tmp_path / "inventory.yaml"
    pack = yaml.safe_load((bundled_packs()["zhenjiang-2018"]).read_text(encoding="utf-8"))
    pack["rules"] = [
        r for r in pack["rules"] if r["id"] not in ("ZJ2018-CAM-24H", "ZJ2018-CAM-HD", "ZJ2018-VIDEO-PATROL")
    ]
    inventory.write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    assert cli("--profiles", str(profiles), "--school", "ok", "--pack", str(inventory)).returncode == 0
    unsure = cli("--profiles", str(profiles), "--school", "unsure", "--pack", str(inventory))
    assert unsure.returncode == 3 and "missing: perimeter" in unsure.stdout
    bad = cli("--profiles", str(profiles), "--school", "bad", *zj)
    assert bad.returncode == 1
    assert "校园低于2米的围墙要架设电子围栏" in bad.stdout and "seeds/002_ae54aaaade87ffaf.txt" in bad.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("schools:\n  - {school_id: s, type: university}\n", encoding="utf-8")
    done = cli("--profiles", str(broken))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "schools.0.type" in done.stderr
