"""``campusguard dashboards push``: the CampusGuard folder, the InfluxDB datasource and the dashboards
of ``dashboards/`` into a Grafana, through its HTTP API (httpx; see decision 47 on grafana-client).

Idempotent: each object is read first and written only when it is missing or differs, so a second
run changes nothing. ``--dry-run`` reads and says what it would write. The datasource gets a fixed
uid, and each dashboard's ``datasource`` variable defaults to it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FOLDER_UID, FOLDER_TITLE = "campusguard", "CampusGuard"
DATASOURCE_UID = "cg-influxdb"
DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "dashboards"


@dataclass
class PushPlan:
    """Where to push and what the datasource points at."""

    grafana_url: str
    token: str
    influx_url: str
    database: str = "campusguard"
    influx_user: str | None = None
    influx_password: str | None = None
    dashboards: Path = DASHBOARDS_DIR
    dry_run: bool = False


@dataclass
class PushReport:
    """What was written (or, in a dry run, would be)."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class GrafanaError(RuntimeError):
    """Grafana refused a call or could not be reached: the method, path and reason."""


class Grafana:
    """The few calls of Grafana's HTTP API that push needs; ``get`` returns None for a 404."""

    def __init__(self, url: str, token: str, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0, transport=transport)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise GrafanaError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if method == "GET" and response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise GrafanaError(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)


def datasource(plan: PushPlan) -> dict[str, Any]:
    """The InfluxDB datasource as Grafana stores it (InfluxQL)."""
    body: dict[str, Any] = {
        "uid": DATASOURCE_UID,
        "name": "CampusGuard InfluxDB",
        "type": "influxdb",
        "access": "proxy",
        "url": plan.influx_url,
        "jsonData": {"dbName": plan.database, "httpMode": "POST"},
    }
    if plan.influx_user:
        body["user"] = plan.influx_user
        body["secureJsonData"] = {"password": plan.influx_password or ""}
    return body


def _dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for variable in data["templating"]["list"]:
        if variable["name"] == "datasource":
            variable["current"] = {"text": "CampusGuard InfluxDB", "value": DATASOURCE_UID}
    return data


def _same_dashboard(stored: dict[str, Any] | None, ours: dict[str, Any]) -> bool:
    if not stored:
        return False
    have = {k: v for k, v in stored.get("dashboard", {}).items() if k not in ("id", "version")}
    return have == {k: v for k, v in ours.items() if k not in ("id", "version")} and (
        stored.get("meta", {}).get("folderUid") == FOLDER_UID
    )


def push(plan: PushPlan, grafana: Grafana | None = None) -> PushReport:
    """Make Grafana hold the folder, the datasource and every dashboard; return what changed."""
    api = grafana or Grafana(plan.grafana_url, plan.token)
    report = PushReport()

    def write(what: str, method: str, path: str, body: Any) -> None:
        report.changed.append(what)
        if not plan.dry_run:
            api.call(method, path, body)

    if api.get(f"/api/folders/{FOLDER_UID}") is None:
        write(f"folder {FOLDER_TITLE}", "POST", "/api/folders", {"title": FOLDER_TITLE, "uid": FOLDER_UID})
    else:
        report.unchanged.append(f"folder {FOLDER_TITLE}")
    ours = datasource(plan)
    stored = api.get(f"/api/datasources/uid/{DATASOURCE_UID}")
    if stored is None:
        write("datasource CampusGuard InfluxDB", "POST", "/api/datasources", ours)
    elif any(stored.get(k) != v for k, v in ours.items() if k != "secureJsonData"):  # Grafana never returns it
        write("datasource CampusGuard InfluxDB", "PUT", f"/api/datasources/uid/{DATASOURCE_UID}", ours)
    else:
        report.unchanged.append("datasource CampusGuard InfluxDB")
    for path in sorted(plan.dashboards.glob("*.json")):
        dashboard = _dashboard(path)
        if _same_dashboard(api.get(f"/api/dashboards/uid/{dashboard['uid']}"), dashboard):
            report.unchanged.append(f"dashboard {dashboard['title']}")
            continue
        body = {
            "dashboard": dashboard,
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "campusguard dashboards push",
        }
        write(f"dashboard {dashboard['title']}", "POST", "/api/dashboards/db", body)
    return report
