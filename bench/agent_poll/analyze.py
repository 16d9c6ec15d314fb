"""Turn a bench/agent_poll run directory into results.json and results.md.

    .venv/bin/python bench/agent_poll/analyze.py bench/results/agent_poll-<stamp>

Per subject, over its measured window [t0, t1):
* CPU % of one core per sampling interval (median, p10, p90), RSS MB (median, max), threads;
  the same CPU medians for the simulator, broker and collector, and the whole machine's busy %
  (of ncpu x 100) with "other" = busy minus the bench's own processes (other users' load).
* floor / TB: polls per device per second (distinct sample ts), HR0 counter coverage, worst poll
  gap, poll->broker latency (receive time minus the sample's ts).
* agent: poll-counter growth per device per second from its status snapshots, and poll->broker
  latency of events (receive time minus the event's ts, which is when the poll finished).
* all three: every simulator DI toggle in [t0, t1 - 5 s] must be seen, for the agent as an
  alarm.raised / alarm.cleared event of that input, for floor / TB as the first sample showing the
  new state; latency = receive time at the collector minus the toggle's time.
"""

import bisect
import csv
import itertools
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

TOGGLE_TAIL_S = 5.0
SEEN_WITHIN_S = 2.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _r(x: float, nd: int = 1) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, nd)


def cpu_series(phase: dict[str, Any], role: str) -> list[float]:
    """CPU % of one core over each sampling interval inside the window."""
    t0, t1 = phase["t0"], phase["t1"]
    pts = [s for s in phase["samples"] if s.get(role) and t0 - 1 <= s["t"] <= t1 + 1]
    out = []
    for a, b in itertools.pairwise(pts):
        dt = b["t"] - a["t"]
        if dt > 0.5:
            out.append(100 * (b[role]["cpu_s"] - a[role]["cpu_s"]) / dt)
    return out


def machine_series(phase: dict[str, Any]) -> list[float]:
    t0, t1 = phase["t0"], phase["t1"]
    pts = [s for s in phase["samples"] if t0 - 1 <= s["t"] <= t1 + 1]
    out = []
    for a, b in itertools.pairwise(pts):
        ma, mb = a["machine"], b["machine"]
        total = mb["total_s"] - ma["total_s"]
        if total > 0:
            busy = total - (mb["idle_s"] - ma["idle_s"])
            out.append(100 * mb["ncpu"] * busy / total)
    return out


def resources(phase: dict[str, Any]) -> dict[str, Any]:
    name = phase["name"]
    t0, t1 = phase["t0"], phase["t1"]
    cpu = cpu_series(phase, name)
    inside = [s[name] for s in phase["samples"] if s.get(name) and t0 - 1 <= s["t"] <= t1 + 1]
    rss = [s["rss_mb"] for s in inside]
    busy = machine_series(phase)
    ours = [0.0] * len(busy)
    for role in (name, "sim", "broker", "collector"):
        series = cpu_series(phase, role)
        for i in range(min(len(ours), len(series))):
            ours[i] += series[i]
    other = [b - o for b, o in zip(busy, ours, strict=False)]
    return {
        "cpu_median": _r(pct(cpu, 50)),
        "cpu_p10": _r(pct(cpu, 10)),
        "cpu_p90": _r(pct(cpu, 90)),
        "cpu_samples": len(cpu),
        "rss_median": _r(pct(rss, 50)),
        "rss_max": _r(max(rss) if rss else math.nan),
        "threads": int(max(s["threads"] for s in inside)) if inside else None,
        "procs": int(max(s["procs"] for s in inside)) if inside else None,
        "sim_cpu": _r(pct(cpu_series(phase, "sim"), 50)),
        "broker_cpu": _r(pct(cpu_series(phase, "broker"), 50)),
        "collector_cpu": _r(pct(cpu_series(phase, "collector"), 50)),
        "machine_busy": _r(pct(busy, 50)),
        "machine_busy_max": _r(max(busy) if busy else math.nan),
        "other_load": _r(pct(other, 50)),
        "other_load_max": _r(max(other) if other else math.nan),
    }


def _toggles(run: Path, t0: float, t1: float) -> list[tuple[float, str, int, int, float]]:
    """Toggles in [t0, t1 - tail] as (time, device, bit, value, time of the next toggle of that bit)."""
    rows = [(float(r["time"]), r["device"], int(r["bit"]), int(r["value"])) for r in _rows(run / "toggles.csv")]
    rows.sort()
    nxt: dict[tuple[str, int], float] = {}
    out = []
    for t, dev, bit, val in reversed(rows):
        following = nxt.get((dev, bit), math.inf)
        nxt[(dev, bit)] = t
        if t0 <= t <= t1 - TOGGLE_TAIL_S:
            out.append((t, dev, bit, val, following))
    out.reverse()
    return out


def _latency_summary(lat: list[float], total: int) -> dict[str, Any]:
    return {
        "toggles": total,
        "seen": len(lat),
        "seen_within_2s": sum(1 for x in lat if x <= SEEN_WITHIN_S),
        "toggle_latency_median": _r(pct(lat, 50), 3),
        "toggle_latency_p95": _r(pct(lat, 95), 3),
        "toggle_latency_max": _r(max(lat) if lat else math.nan, 3),
    }


def sampled_subject(run: Path, phase: dict[str, Any], source: str) -> dict[str, Any]:
    t0, t1 = phase["t0"], phase["t1"]
    by_dev: dict[str, list[tuple[float, float, int, int]]] = defaultdict(list)  # recv, ts, hr0, mask
    for r in _rows(run / "samples.csv"):
        if r["source"] != source:
            continue
        recv, ts = float(r["recv"]), float(r["ts"])
        if t0 - 5 <= ts < t1 + 10:
            by_dev[r["device"]].append((recv, ts, int(r["hr0"]), int(r["dimask"])))
    rates, coverage, gaps, lat = [], [], [], []
    expected = {s & 0xFFFF for s in range(math.ceil(t0) + 2, math.floor(t1) - 2)}
    for samples in by_dev.values():
        samples.sort(key=lambda x: x[1])
        in_window = [x for x in samples if t0 <= x[1] < t1]
        stamps = sorted({x[1] for x in in_window})
        rates.append(len(stamps) / (t1 - t0))
        gaps.extend(b - a for a, b in itertools.pairwise(stamps))
        seen = {x[2] for x in samples if t0 <= x[1] < t1 + 2}
        coverage.append(len(expected & seen) / len(expected) if expected else math.nan)
        lat.extend(x[0] - x[1] for x in in_window)
    toggles = _toggles(run, t0, t1)
    for samples in by_dev.values():
        samples.sort(key=lambda x: x[0])
    recv_index = {d: [x[0] for x in s] for d, s in by_dev.items()}
    tlat = []
    bad_di = 0
    for t, dev, bit, val, following in toggles:
        samples = by_dev.get(dev, [])
        i = bisect.bisect_right(recv_index.get(dev, []), t)
        for recv, _ts, _hr0, mask in samples[i:]:
            if recv >= following:
                break
            if mask < 0:
                bad_di += 1
                break
            if (mask >> bit) & 1 == val:
                tlat.append(recv - t)
                break
    return {
        "devices_seen": len(by_dev),
        "polls_per_dev_s_median": _r(pct(rates, 50), 3),
        "polls_per_dev_s_min": _r(min(rates) if rates else math.nan, 3),
        "counter_coverage_median": _r(pct(coverage, 50), 3),
        "counter_coverage_min": _r(min(coverage) if coverage else math.nan, 3),
        "worst_poll_gap_s": _r(max(gaps) if gaps else math.nan, 2),
        "poll_to_broker_median": _r(pct(lat, 50), 3),
        "poll_to_broker_p95": _r(pct(lat, 95), 3),
        "samples_without_di": bad_di,
        **_latency_summary(tlat, len(toggles)),
    }


def agent_subject(run: Path, phase: dict[str, Any]) -> dict[str, Any]:
    t0, t1 = phase["t0"], phase["t1"]
    events: dict[str, dict[str, Any]] = {}
    copies = 0
    for r in _rows(run / "events.csv"):
        recv = float(r["recv"])
        if not phase["started"] <= recv < t1 + 15:
            continue
        if r["event_id"] in events:
            copies += 1
            continue
        events[r["event_id"]] = {
            "recv": recv,
            "ts": float(r["ts"]),
            "device": r["device"],
            "type": r["type"],
            "zone": int(r["zone"]) if r["zone"] else None,
        }
    by_key: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    for e in events.values():
        if e["type"] in ("alarm.raised", "alarm.cleared") and e["zone"]:
            val = 1 if e["type"] == "alarm.raised" else 0
            by_key[(e["device"], e["zone"] - 1, val)].append(e["recv"])
    for v in by_key.values():
        v.sort()
    toggles = _toggles(run, t0, t1)
    tlat = []
    for t, dev, bit, val, following in toggles:
        recvs = by_key.get((dev, bit, val), [])
        i = bisect.bisect_right(recvs, t)
        if i < len(recvs) and recvs[i] < following:
            tlat.append(recvs[i] - t)
    in_window = [e for e in events.values() if t0 <= e["ts"] < t1]
    lat = [e["recv"] - e["ts"] for e in in_window]
    status: dict[str, list[tuple[float, int]]] = defaultdict(list)
    not_online = 0
    for r in _rows(run / "status.csv"):
        snap = float(r["snap_ts"])
        if t0 <= snap <= t1 and r["polls"]:
            status[r["device"]].append((snap, int(r["polls"])))
            not_online += r["availability"] != "online"
    rates = []
    for snaps in status.values():
        snaps.sort()
        if len(snaps) >= 2 and snaps[-1][0] > snaps[0][0]:
            rates.append((snaps[-1][1] - snaps[0][1]) / (snaps[-1][0] - snaps[0][0]))
    return {
        "devices_seen": len(status),
        "polls_per_dev_s_median": _r(pct(rates, 50), 3),
        "polls_per_dev_s_min": _r(min(rates) if rates else math.nan, 3),
        "snapshot_rows_not_online": not_online,
        "events_in_window": len(in_window),
        "event_copies": copies,
        "availability_events": sum(1 for e in in_window if e["type"] == "availability.changed"),
        "poll_to_broker_median": _r(pct(lat, 50), 3),
        "poll_to_broker_p95": _r(pct(lat, 95), 3),
        **_latency_summary(tlat, len(toggles)),
    }


def analyze(run: Path) -> dict[str, Any]:
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    subjects: dict[str, Any] = {}
    for phase in meta["phases"]:
        name = phase["name"]
        res = resources(phase)
        if name.startswith("agent"):
            res.update(agent_subject(run, phase))
        else:
            res.update(sampled_subject(run, phase, "floor" if name.startswith("floor") else "tb"))
        subjects[name] = res
    ratios: dict[str, Any] = {}
    for mine in ("agent", "agent_aligned"):
        agent = subjects.get(mine)
        for peer in ("floor", "tb"):
            other = subjects.get(peer)
            if agent and other and other["cpu_median"] and other["rss_median"]:
                ratios[f"{mine}/{peer}"] = {
                    "cpu": round(agent["cpu_median"] / other["cpu_median"], 2),
                    "rss": round(agent["rss_median"] / other["rss_median"], 2),
                }
    results = {"command": meta["command"], "args": meta["args"], "subjects": subjects, "ratios": ratios}
    (run / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (run / "results.md").write_text(markdown(results), encoding="utf-8")
    return results


def markdown(results: dict[str, Any]) -> str:
    s = results["subjects"]
    lines = [
        f"Command: `{results['command']}`",
        "",
        "| subject | CPU % of one core, median [p10–p90] | RSS MB median (max) | threads | polls/device/s"
        " median (min) | toggles seen ≤2 s | toggle→seen s median (p95, max) | poll→broker s median (p95) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in s.items():
        lines.append(
            f"| {name} | {r['cpu_median']} [{r['cpu_p10']}–{r['cpu_p90']}] | {r['rss_median']} ({r['rss_max']}) "
            f"| {r['threads']} | {r['polls_per_dev_s_median']} ({r['polls_per_dev_s_min']}) "
            f"| {r['seen_within_2s']}/{r['toggles']} | {r['toggle_latency_median']} ({r['toggle_latency_p95']}, "
            f"{r['toggle_latency_max']}) | {r['poll_to_broker_median']} ({r['poll_to_broker_p95']}) |"
        )
    lines += [
        "",
        "| subject | sim CPU % | broker CPU % | collector CPU % | machine busy % of 200, median (max)"
        " | other load % (not the bench), median (max) | CPU samples |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in s.items():
        lines.append(
            f"| {name} | {r['sim_cpu']} | {r['broker_cpu']} | {r['collector_cpu']} | {r['machine_busy']} "
            f"({r['machine_busy_max']}) | {r['other_load']} ({r['other_load_max']}) | {r['cpu_samples']} |"
        )
    extra = []
    for name, r in s.items():
        if name.startswith("agent"):
            extra.append(
                f"- {name}: {r['events_in_window']} events in the window, {r['event_copies']} resent copies, "
                f"{r['availability_events']} availability events, {r['snapshot_rows_not_online']} snapshot rows "
                f"not online, {r['devices_seen']} devices in snapshots"
            )
        else:
            extra.append(
                f"- {name}: counter coverage median {r['counter_coverage_median']} (min {r['counter_coverage_min']}),"
                f" worst poll gap {r['worst_poll_gap_s']} s, {r['devices_seen']} devices seen,"
                f" {r['samples_without_di']} samples without a DI list"
            )
    lines += ["", *extra]
    if results["ratios"]:
        lines += ["", "| ratio | CPU | RSS |", "|---|---|---|"]
        for k, v in results["ratios"].items():
            lines.append(f"| {k} | {v['cpu']} | {v['rss']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(analyze(Path(sys.argv[1]))))
