"""Make the example monthly report in docs/examples/ (and a PNG of its first page in docs/img/).

The demo district (示范区: its three schools and four more), October 2026 simulated by ``simulator.history``
(seeded: the same files each run), judged by the bundled rule packs on the profiles below.

    .venv/bin/python scripts/example_report.py [--out docs/examples] [--png docs/img/report-page1.png]
"""

import argparse
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from campusguard.demo import DEMO_PROFILES, SCHOOLS, SMALL_SCHOOLS
from hub.auth.cli import open_database
from hub.report.collect import build
from hub.report.model import Month, Scope
from hub.report.render import render
from hub.settings import load_settings
from simulator.history import SchoolSpec, standard_school, write_month

MONTH = Month(2026, 10)
NOW = datetime(2026, 11, 27, tzinfo=UTC)  # when the example was made: October is over
EXTRA: dict[str, tuple[str, dict[str, float]]] = {
    "school-004": ("城南中学", {"flakiness": 1.4, "gateway_outage_h": 5}),
    "school-005": ("东湖小学", {"flakiness": 0.6}),
    "school-006": ("春苗幼儿园", {"flakiness": 2.0, "new_camera_day": 12}),
    "school-007": ("实验中学（寄宿）", {"flakiness": 1.0}),
}
EXTRA_PROFILES = [
    # a kindergarten with neither access control nor pick-up cards: Zhenjiang 二、2
    {
        "school_id": "school-006",
        "type": "kindergarten",
        "pickup_cards": False,
        "perimeter": [{"id": "all", "wall_height_m": 2.1}],
    },
    {"school_id": "school-005", "type": "primary", "perimeter": [{"id": "south", "wall_height_m": 2.5}]},
]


def _demo_school(n: int, school: str, name: str) -> SchoolSpec:
    """A demo school as ``make demo`` runs it: two cameras, or only the devices a small one has."""
    spec = standard_school(school, name, f"s{n}", cameras=0 if school in SMALL_SCHOOLS else 2)
    only = SMALL_SCHOOLS.get(school)
    if only is None:
        return spec
    return replace(spec, devices=tuple(d for d in spec.devices if d.id.split("-", 1)[1] in only))


def district() -> list[SchoolSpec]:
    specs = [_demo_school(n, school, name) for n, (school, name) in enumerate(SCHOOLS.items(), 1)]
    specs += [
        standard_school(school, name, f"s{n}", cameras=6, **extra)
        for n, (school, (name, extra)) in enumerate(EXTRA.items(), start=len(SCHOOLS) + 1)
    ]
    return specs


def hub_yaml(folder: Path) -> Path:
    profiles = yaml.safe_load(DEMO_PROFILES)
    profiles["schools"] += EXTRA_PROFILES
    (folder / "profiles.yaml").write_text(yaml.safe_dump(profiles, allow_unicode=True), encoding="utf-8")
    names = {**SCHOOLS, **{k: v[0] for k, v in EXTRA.items()}}
    config = {
        "database": {"url": f"sqlite:///{folder / 'hub.db'}"},
        "districts": [{"id": "demo-district", "name": "示范区", "packs": ["zhenjiang-2018"]}],
        "schools": [{"id": s, "name": n, "district": "demo-district"} for s, n in names.items()],
        "compliance": {"profiles": str(folder / "profiles.yaml")},
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def make(out: Path, png: Path | None, formats: tuple[str, ...] = ("pdf", "xlsx", "csv", "html")) -> dict[str, Path]:
    """Write the example in each format; returns the files."""
    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = hub_yaml(Path(tmp))
        settings = load_settings(config)
        sessions = open_database(config)
        start, end = MONTH.range_in(settings.school_tz("school-001"))
        with sessions() as session:
            write_month(session, district(), start, end)
            report = build(session, settings, scope=Scope("district", "demo-district"), month=MONTH, now=NOW)
        out.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            path = out / f"monthly-report-demo-district-{MONTH}.{fmt}"
            path.write_bytes(render(report, fmt))
            written[fmt] = path
    if png is not None and "pdf" in written:
        import pypdfium2

        page = pypdfium2.PdfDocument(str(written["pdf"]))[0]
        page.render(scale=1.6).to_pil().save(png, optimize=True)
        written["png"] = png
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/examples"))
    parser.add_argument("--png", type=Path, default=Path("docs/img/report-page1.png"))
    args = parser.parse_args()
    for fmt, path in make(args.out, args.png).items():
        print(f"{fmt}: {path} ({path.stat().st_size} bytes)")
