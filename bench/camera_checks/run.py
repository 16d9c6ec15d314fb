"""Benchmark camera checks: CPU per liveness and per image check, and checks per minute on one core.

Streams are real RTSP/H.264 from gst-rtsp-server on loopback (the same server the tests use):
640x360 at 10 fps (a substream) and 1920x1080 at 25 fps, 4 Mb/s (a main stream). CPU is the whole
process's (user + system, every thread), divided by the checks run one after another.

    .venv/bin/python bench/camera_checks/run.py [--checks 20] [--seconds 30] [--workers 4]
"""

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.camera.pool import VideoPool
from agent.camera.video import image_metrics, read_stream, small_grey
from tests.support.servers import RtspServer


def cpu_s() -> float:
    """CPU seconds used by this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def liveness(url: str) -> None:
    """L2: open and count packets for 1 s, no decoding."""
    result = read_stream(url, decode_frames=0, liveness_s=1.0)
    assert result.opened, result.error
    assert result.packets > 0, result.error


def image_check(url: str, frames: int = 10) -> None:
    """L3: open, decode ``frames`` frames, diagnose the last against the first (what the driver does)."""
    result = read_stream(url, decode_frames=frames, liveness_s=1.0)
    assert len(result.frames) == 2, result.error
    image_metrics(result.frames[-1], small_grey(result.frames[0]), small_grey(result.frames[0]))


def per_check(kind: str, url: str, checks: int) -> dict[str, float]:
    """Run checks one after another; CPU and wall time per check."""
    fn = liveness if kind == "liveness" else image_check
    fn(url)  # warm-up (first open in a process initialises FFmpeg)
    cpu0, wall0 = cpu_s(), time.monotonic()
    for _ in range(checks):
        fn(url)
    cpu, wall = cpu_s() - cpu0, time.monotonic() - wall0
    return {"cpu_ms": round(cpu / checks * 1000, 1), "wall_ms": round(wall / checks * 1000, 1)}


async def throughput(url: str, seconds: float, workers: int) -> dict[str, float]:
    """Image checks on many 'cameras' at once through the agent's pool, budgeted to one core."""
    pool = VideoPool(budget_cores=1.0, workers=workers)
    done = failed = 0
    deadline = time.monotonic() + seconds

    async def camera() -> None:
        nonlocal done, failed
        while time.monotonic() < deadline:
            try:
                await pool.run(image_check, url)
            except AssertionError:
                failed += 1  # the one test RTSP server process saturates before the agent does
            else:
                done += 1

    cpu0, wall0 = cpu_s(), time.monotonic()
    await asyncio.gather(*(camera() for _ in range(workers * 2)))
    cpu, wall = cpu_s() - cpu0, time.monotonic() - wall0
    pool.close()
    return {
        "concurrent_cameras": workers * 2,
        "failed_checks": failed,
        "checks_per_min": round(done / wall * 60, 1),
        "cpu_cores": round(cpu / wall, 2),
        "checks_per_min_per_core": round(done / cpu * 60, 1),
    }


def main() -> None:
    """Run every measurement and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    server = RtspServer().start()
    try:
        sub, main_stream = server.url("live"), server.url("live1080")
        results: dict[str, object] = {}
        for name, url in (("640x360", sub), ("1920x1080", main_stream)):
            results[f"liveness {name}"] = per_check("liveness", url, args.checks)
            results[f"image {name}"] = per_check("image", url, args.checks)
        results["throughput 640x360 (pool budget 1 core)"] = asyncio.run(throughput(sub, args.seconds, args.workers))
        print(json.dumps(results, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
