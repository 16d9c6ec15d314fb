"""Screenshots of the console for the docs, taken in Debian's Chromium against `campusguard demo --scenario story`.

    .venv/bin/python scripts/console_screenshots.py [--out docs/img]

Writes console-board.png, panic-card.png (the panic card with its camera's picture),
incident-card.png (a fence cut: one card, its signals listed), patrol-page.png (a video patrol round),
camera-uptime.png, compliance-table.png and compliance-card.png at
1366x768 (a control-room screen), alarm-detail.png, and console-phone.png at 390x844. The demo runs
minutes, not weeks, so before it starts the script writes 30 days of made-up availability history
for the demo's four cameras into the demo database (a few outages, a camera covered for most of a
day); everything after that is the live demo: the story presses the panic button, cuts a fence zone,
silences the gate controller and covers a camera, and the board is shot once the unacknowledged
panic alarm has escalated (about 2 minutes in).
"""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from campusguard.net import free_port
from hub.db.engine import make_engine, migrate, session_factory
from hub.db.models import Transition

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CAMERAS = {  # camera -> (school, made-up outages per 30 days, longest outage in hours)
    "s1-cam-gate": ("school-001", 1, 0.5),
    "s1-cam-playground": ("school-001", 3, 5.0),
    "s2-cam-gate": ("school-002", 2, 2.0),
    "s2-cam-playground": ("school-002", 6, 40.0),
}


def seed_history(database: Path, now: datetime, rng: random.Random) -> None:
    """30 days of camera availability before the demo starts: online, with some offline spells."""
    engine = make_engine(f"sqlite:///{database}", False)
    migrate(engine)
    start = now - timedelta(days=30)
    rows: list[Transition] = []
    for camera, (school, outages, longest_h) in CAMERAS.items():
        rows.append(Transition(school_id=school, gateway_id="gw-01", device_id=camera, at=start, availability="online"))
        for _ in range(outages):
            begin = start + timedelta(hours=rng.uniform(2, 29 * 24))
            length = timedelta(hours=rng.uniform(0.1, longest_h))
            rows.append(
                Transition(
                    school_id=school,
                    gateway_id="gw-01",
                    device_id=camera,
                    at=begin,
                    availability="offline",
                    reason=rng.choice(["unreachable", "timeout"]),
                )
            )
            rows.append(
                Transition(
                    school_id=school, gateway_id="gw-01", device_id=camera, at=begin + length, availability="online"
                )
            )
    with session_factory(engine).begin() as db:
        db.add_all(rows)
    engine.dispose()


def start_demo(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str, str]:
    """Run the demo with the story; return it, the console URL and the demo password."""
    command = [str(Path(sys.executable).with_name("campusguard")), "demo", "--scenario", "story"]
    command += ["--port", str(port), "--data-dir", str(data_dir), "--duration", "300"]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # noqa: S603 - our own CLI, fixed arguments
    assert demo.stdout is not None
    url = password = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not password:
        line = demo.stdout.readline()
        if not line:
            break
        if m := re.match(r"CampusGuard console: (\S+)", line):
            url = m.group(1)
        if m := re.match(r"Demo login: demo / (\S+)", line):
            password = m.group(1)
    if not url or not password:
        demo.kill()
        raise SystemExit("the demo did not print its console URL and demo login")
    return demo, url, password


def sign_in(page: Page, url: str, password: str) -> None:
    """Open the console and sign in as the demo account."""
    page.goto(url)
    page.fill("#login-form [name=username]", "demo")
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector('body[data-conn="live"]')


def acknowledge_one(page: Page) -> None:
    """Acknowledge the fence alarm through the page, as a guard would, so the board shows both states."""
    card = page.locator(".alarm-card", has_text="s2-fence").first
    card.locator(".act-ack").click()
    page.fill("#action-note", "已通知保安前往东侧围墙查看")
    page.click("#action-submit")
    page.wait_for_selector('.alarm-card[data-state="acknowledged"]')


def main() -> int:
    """Take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="campusguard-shots-"))
    seed_history(data_dir / "hub.db", datetime.now(UTC) - timedelta(minutes=1), random.Random(5))  # noqa: S311 - made-up demo history
    demo, url, password = start_demo(data_dir, free_port())
    try:
        time.sleep(25)  # the story: panic pressed, fence cut, gate controller silent, camera covered
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            sign_in(page, url, password)
            page.wait_for_selector('.alarm-card[data-kind="video_blind"]', timeout=20_000)
            acknowledge_one(page)
            # The demo escalates an unacknowledged alarm after 120 s: wait for the panic alarm's.
            page.wait_for_selector('.alarm-card[data-escalated="yes"]', timeout=150_000)
            page.mouse.move(0, 0)
            page.wait_for_selector("#toast", state="hidden")
            page.screenshot(path=args.out / "console-board.png")
            panic = page.locator('.alarm-card[data-kind="panic"]').first
            panic.locator(".pictures img").wait_for(timeout=20_000)
            page.wait_for_function("() => [...document.querySelectorAll('.pictures img')].every(i => i.complete)")
            panic.screenshot(path=args.out / "panic-card.png")
            fence = page.locator('.alarm-card:not([data-signals="1"])').first  # a fence cut: one incident, its signals
            fence.screenshot(path=args.out / "incident-card.png")

            page.locator('.alarm-card[data-kind="video_blind"] .act-detail').click()
            page.wait_for_selector(".alarm-detail img.snapshot", timeout=20_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=args.out / "alarm-detail.png")

            page.goto(f"{url}/#/uptime")
            page.click('.range button[data-days="30"]')
            page.wait_for_selector(".bar-list")
            page.wait_for_timeout(500)
            page.screenshot(path=args.out / "camera-uptime.png")

            page.goto(f"{url}/#/compliance")
            page.wait_for_selector(".compliance-table tbody tr")
            page.wait_for_timeout(500)
            page.screenshot(path=args.out / "compliance-table.png")
            page.goto(f"{url}/#/compliance/school-001")
            page.wait_for_selector(".compliance-card .finding")
            page.wait_for_timeout(500)
            page.screenshot(path=args.out / "compliance-card.png", full_page=True)

            page.goto(f"{url}/#/patrol")  # 网上巡查: start the gate round, the first camera live
            page.locator("tr[data-plan] button.primary").first.click()
            frame = "document.querySelector('.patrol-run .live-frame')"
            page.wait_for_function(f"() => {frame}?.complete && {frame}.naturalWidth > 0", timeout=20_000)
            page.wait_for_timeout(500)
            page.screenshot(path=args.out / "patrol-page.png")

            phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=2)
            sign_in(phone, url, password)
            phone.wait_for_selector(".alarm-card")
            phone.wait_for_timeout(500)
            phone.screenshot(path=args.out / "console-phone.png")
            browser.close()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    shots = (
        "console-board.png",
        "panic-card.png",
        "incident-card.png",
        "patrol-page.png",
        "alarm-detail.png",
        "camera-uptime.png",
        "compliance-table.png",
        "compliance-card.png",
    )
    for name in (*shots, "console-phone.png"):
        print(args.out / name, os.path.getsize(args.out / name), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
