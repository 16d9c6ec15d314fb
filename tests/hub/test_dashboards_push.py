"""``campusguard dashboards push`` against a local HTTP server that keeps and records what a Grafana
would (the folder, datasource and dashboard endpoints of its HTTP API). Grafana itself cannot be
installed here (not in Debian, no Docker)."""

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hub.dashboards import DASHBOARDS_DIR

TOKEN = "glsa_test_token"


class FakeGrafana(ThreadingHTTPServer):
    """Folders, datasources and dashboards by uid, as Grafana's API returns them; every call recorded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[str, str]] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]


class Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def log_message(self, *_args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        self.server.calls.append((method, self.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"message": "Unauthorized"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        s, parts = self.server, self.path.strip("/").split("/")
        if parts[:2] == ["api", "folders"]:
            if method == "POST":
                s.folders[body["uid"]] = body
                return self._answer(200, body)
            found = s.folders.get(parts[2])
            return self._answer(200, found) if found else self._answer(404, {"message": "folder not found"})
        if parts[:2] == ["api", "datasources"]:
            if method in ("POST", "PUT"):
                s.datasources[body["uid"]] = {k: v for k, v in body.items() if k != "secureJsonData"}
                return self._answer(200, {"datasource": body})
            found = s.datasources.get(parts[3])
            return self._answer(200, found) if found else self._answer(404, {"message": "data source not found"})
        if parts[:3] == ["api", "dashboards", "db"] and method == "POST":
            dashboard = dict(body["dashboard"])
            old = s.dashboards.get(dashboard["uid"])
            dashboard["id"], dashboard["version"] = 1, (old["dashboard"]["version"] + 1 if old else 1)
            s.dashboards[dashboard["uid"]] = {"dashboard": dashboard, "meta": {"folderUid": body.get("folderUid")}}
            return self._answer(200, {"status": "success", "uid": dashboard["uid"]})
        if parts[:3] == ["api", "dashboards", "uid"]:
            found = s.dashboards.get(parts[3])
            return self._answer(200, found) if found else self._answer(404, {"message": "Dashboard not found"})
        return self._answer(404, {"message": "not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    server = FakeGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def push(grafana: FakeGrafana, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "campusguard.cli", "dashboards", "push", "--grafana", grafana.url,
           "--token-file", str(token), "--influx-url", "http://influx:8086", *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_push_creates_everything_once_and_a_second_run_changes_nothing(grafana: FakeGrafana, tmp_path: Path) -> None:
    dry = push(grafana, tmp_path, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert grafana.writes() == [] and "would change: folder CampusGuard" in dry.stdout

    first = push(grafana, tmp_path)
    assert first.returncode == 0, first.stderr
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert grafana.writes() == [
        ("POST", "/api/folders"),
        ("POST", "/api/datasources"),
        *[("POST", "/api/dashboards/db")] * len(files),
    ]
    source = grafana.datasources["cg-influxdb"]
    assert (source["type"], source["url"], source["jsonData"]["dbName"]) == (
        "influxdb",
        "http://influx:8086",
        "campusguard",
    )
    stored = grafana.dashboards["cg-cameras"]
    assert stored["meta"]["folderUid"] == "campusguard"
    assert stored["dashboard"]["templating"]["list"][0]["current"]["value"] == "cg-influxdb"

    writes = len(grafana.writes())
    second = push(grafana, tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(grafana.writes()) == writes, "a second push must change nothing"
    assert f"0 changed, {len(files) + 2} already up to date" in second.stdout

    other = push(grafana, tmp_path, "--database", "cg2")  # a changed datasource is updated, nothing else
    assert grafana.writes()[writes:] == [("PUT", "/api/datasources/uid/cg-influxdb")], other.stdout


def test_a_wrong_token_or_no_grafana_is_one_clear_line(grafana: FakeGrafana, tmp_path: Path) -> None:
    token = tmp_path / "bad"
    token.write_text("nope", encoding="utf-8")
    cmd = [sys.executable, "-m", "campusguard.cli", "dashboards", "push", "--grafana", grafana.url,
           "--token-file", str(token), "--influx-url", "http://influx:8086"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and f"Grafana at {grafana.url}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    missing = subprocess.run(
        [*cmd[:6], "http://127.0.0.1:1", *cmd[7:]], capture_output=True, text=True, timeout=60, check=False
    )
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1, missing.stderr
