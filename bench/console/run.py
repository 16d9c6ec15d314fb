"""The alarm board under a city's load, in Debian's Chromium: 500 schools with 2,000 open alarms.

    .venv/bin/python bench/console/run.py [--schools 500] [--alarms 2000] [--changes 20]

A hub (SQLite, no broker needed for this) serves the console; the alarms are written straight into
its database. Measured in the page: the time from navigation to the compact list's first page (the
200 most urgent incidents; first render, the cards view too, with the console's files cached after
a first visit, which is measured too), the time to draw all 2,000 rows after
pressing 显示更多, the time one live change takes to reach the page and be
drawn (an acknowledgement through the API, seen by a MutationObserver), and the cost of redrawing
the board (what each live change costs the page). Results in ``bench/console/results.json``.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from campusguard.net import free_port
from hub.app import create_app
from hub.db.models import Alarm, School
from hub.settings import HubSettings

KINDS = ["device_offline", "video_blind", "panic", "voltage_low", "mains_loss", "intrusion"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def seed(app: FastAPI, schools: int, alarms: int) -> None:
    sessions = app.state.services.sessions
    now = datetime.now(UTC)
    with sessions.begin() as db:
        db.add_all([School(id=f"school-{n:04d}", first_seen=now) for n in range(schools)])
        for n in range(alarms):
            at = now - timedelta(seconds=n * 7)
            kind = KINDS[n % len(KINDS)]
            db.add(
                Alarm(
                    id=f"bench-{n:05d}", school_id=f"school-{n % schools:04d}", gateway_id="gw-01",
                    device_id=f"dev-{n:05d}", kind=kind, severity="critical" if kind == "panic" else "major",
                    state="raised", condition="active", latched=kind == "panic", raised_at=at, received_at=at,
                )
            )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--alarms", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cg-bench-console-"))
    port = free_port()
    settings = HubSettings.model_validate(
        {
            "mqtt": {"url": f"mqtt://127.0.0.1:{free_port()}"},  # no broker: the board needs none
            "database": {"url": f"sqlite:///{folder / 'hub.db'}"},
            "api": {"port": port, "auth": "off"},
            "alarms": {"escalate_after_s": 3600},
            "schools": [
                {"id": f"school-{n:04d}", "name": f"第{n}学校", "district": "city"} for n in range(args.schools)
            ],
            "districts": [{"id": "city"}],
        }
    )
    app = create_app(settings)
    seed(app, args.schools, args.alarms)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"

    results: dict[str, object] = {"command": " ".join(sys.argv), "schools": args.schools, "alarms": args.alarms}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            # A first visit (the browser has none of the console's files yet); then the guard's usual
            # start, with the files cached, measured for each view.
            cold = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            cold.add_init_script("localStorage.setItem('campusguard.board', 'list')")
            cold.goto(url)
            cold.wait_for_function("() => document.querySelector('.alarm-list tr.alarm-row') !== null", timeout=60_000)
            results["cold_first_visit_ms"] = round(float(cold.evaluate("performance.now()")), 1)
            cold.close()
            for mode in ("list", "cards"):
                page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
                page.add_init_script(f"localStorage.setItem('campusguard.board', '{mode}')")
                selector = ".alarm-list tr.alarm-row" if mode == "list" else ".alarm-card"
                page.goto(url)
                page.wait_for_function(
                    f"n => document.querySelectorAll('{selector}').length >= n", arg=min(args.alarms, 1), timeout=60_000
                )
                shown = page.evaluate(f"document.querySelectorAll('{selector}').length")
                first_render_ms = page.evaluate("performance.now()")  # from navigation start to drawn
                results[f"{mode}_first_render_ms"] = round(first_render_ms, 1)
                results[f"{mode}_rows"] = shown
                redraws = [
                    page.evaluate(
                        "() => { const t0 = performance.now(); window.dispatchEvent(new HashChangeEvent('hashchange'));"
                        " return performance.now() - t0; }"
                    )
                    for _ in range(10)
                ]
                results[f"{mode}_redraw_ms_median"] = round(statistics.median(redraws), 1)
                if mode == "list":
                    results["live_change_ms"] = live_changes(page, url, args.changes)
                    results["list_all_rows_ms"] = show_everything(page, selector, args.alarms)
                page.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


def show_everything(page: Page, selector: str, alarms: int) -> float:
    """Time to draw every row: the guard presses 显示更多 until the list ends (the first page is 200)."""
    t0 = page.evaluate("performance.now()")
    while page.locator(".show-more").count():  # clicked in the page: the 开始值班 overlay covers it here
        page.evaluate("document.querySelector('.show-more').click()")
    page.wait_for_function(f"n => document.querySelectorAll('{selector}').length >= n", arg=alarms, timeout=60_000)
    return round(float(page.evaluate("performance.now()")) - float(t0), 1)


WATCH = """id => {
  window.__seen = null;
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    const row = document.querySelector(`tr.alarm-row[data-id="${id}"]`);
    if (row && row.dataset.state === "acknowledged") {
      window.__seen = performance.now() - t0;
      obs.disconnect();
    }
  });
  obs.observe(document.querySelector("main"), {subtree: true, childList: true, attributes: true});
}"""


def live_changes(page: Page, url: str, changes: int) -> dict[str, float]:
    """Acknowledge alarms through the API; time until each row shows it (API call to drawn)."""
    took = []
    shown = page.evaluate(
        "n => [...document.querySelectorAll('tr.alarm-row[data-state=raised]')].slice(0, n).map(r => r.dataset.id)",
        changes,
    )  # the rows at the top of the list, as a guard sees them
    for alarm_id in shown:
        page.evaluate(WATCH, alarm_id)
        done = httpx.post(f"{url}/api/v1/alarms/{alarm_id}/acknowledge", json={"note": "bench"}, timeout=10)
        done.raise_for_status()
        page.wait_for_function("() => window.__seen !== null", timeout=10_000)
        took.append(page.evaluate("window.__seen"))
    return {"median": round(statistics.median(took), 1), "max": round(max(took), 1)}


if __name__ == "__main__":
    sys.exit(main())
