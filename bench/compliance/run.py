"""A city's compliance, judged: 5,000 schools and 300,000 devices against every bundled pack.

    .venv/bin/python bench/compliance/run.py [--schools 5000] [--devices-per-school 60] [--changes 2000]

Measures the pure evaluation (``hub.domain.compliance.checks.evaluate``) the hub runs per school:
a full pass over the city, and the cost of one device changing state, which re-judges only that
device's school (the unit the hub re-evaluates). Profiles and observations are built in memory
with a fixed seed; the database and HTTP are not timed here (hub_ingest measures those).
"""

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hub.compliance.files import bundled_packs, load_pack
from hub.domain.compliance.checks import evaluate
from hub.domain.compliance.model import (
    DeviceState,
    Networked,
    Observed,
    Platform,
    Point,
    Rule,
    SchoolProfile,
    SchoolType,
    Segment,
)

NOW = datetime(2026, 11, 28, 4, tzinfo=UTC)
KINDS = [("camera", 0.7), ("one_click_alarm", 0.1), ("access_gate", 0.1), ("fence", 0.1)]
PLACES = ["main_gate", "guard_room", "playground", "teaching_building", "canteen", "perimeter", "kindergarten_room"]


def school(rng: random.Random, n: int, devices: int) -> tuple[SchoolProfile, Observed]:
    points, states = [], {}
    for d in range(devices):
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        links = (Networked(Platform.LOCAL_VIDEO, "registration"),) + (
            (Networked(Platform.POLICE, "forwarding_test", at=date(2026, 10, 1)),) if rng.random() < 0.5 else ()
        )
        attrs: dict[str, str | float] = {"resolution": "1920x1080", "retention_days": 30} if kind == "camera" else {}
        points.append(Point(f"d{d}", kind, rng.choice(PLACES), networked=links, attributes=attrs))
        availability = rng.choices(["online", "degraded", "offline", "unknown"], [0.93, 0.03, 0.03, 0.01])[0]
        states[f"d{d}"] = DeviceState(availability, NOW - timedelta(hours=rng.uniform(0, 48)), None, {})
    profile = SchoolProfile(
        f"s{n}",
        type=rng.choice(list(SchoolType)),
        boarding=rng.random() < 0.3,
        pickup_cards=rng.random() < 0.5,
        perimeter=tuple(
            Segment(f"p{i}", rng.uniform(1.5, 2.8), "f:1" if rng.random() < 0.5 else None) for i in range(4)
        ),
        points=tuple(points),
    )
    return profile, Observed(NOW, states)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=5000)
    parser.add_argument("--devices-per-school", type=int, default=60)
    parser.add_argument("--changes", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)  # noqa: S311 - a fixed seed: the same city every run
    rules: list[Rule] = list({r.id: r for p in bundled_packs().values() for r in load_pack(p)}.values())
    city = [school(rng, n, args.devices_per_school) for n in range(args.schools)]
    today = NOW.date()
    started = time.perf_counter()
    findings = sum(len(evaluate(p, rules, o, today)) for p, o in city)
    full_s = time.perf_counter() - started
    costs = []
    for _ in range(args.changes):  # one device changes: its school is judged again
        i = rng.randrange(len(city))
        profile, observed = city[i]
        device = rng.choice(profile.points).device_id
        flipped = "offline" if observed.devices[device].availability == "online" else "online"
        observed = replace(observed, devices={**observed.devices, device: DeviceState(flipped, NOW)})
        t0 = time.perf_counter()
        evaluate(profile, rules, observed, today)
        costs.append(time.perf_counter() - t0)
        city[i] = (profile, observed)
    result = {
        "command": " ".join(sys.argv),
        "schools": args.schools,
        "devices": args.schools * args.devices_per_school,
        "rules": len(rules),
        "findings": findings,
        "full_evaluation_s": round(full_s, 2),
        "one_change_mean_ms": round(statistics.mean(costs) * 1000, 3),
        "one_change_p99_ms": round(sorted(costs)[int(len(costs) * 0.99)] * 1000, 3),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
