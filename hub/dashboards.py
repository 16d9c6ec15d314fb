"""``campusguard dashboards push``: the CampusGuard folder, the InfluxDB datasource and the dashboards
of ``dashboards/`` into a Grafana, through its HTTP API (grafana-client).

Idempotent: each object is read first and written only when it is missing or differs, so a second
run changes nothing. ``--dry-run`` reads and says what it would write. The datasource gets a fixed
uid, and each dashboard's ``datasource`` variable defaults to it.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

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


def _missing(exc: GrafanaClientError) -> bool:
    return getattr(exc, "status_code", None) == 404


def _get(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except GrafanaClientError as exc:
        if _missing(exc):
            return None
        raise


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


def push(plan: PushPlan, api: GrafanaApi | None = None) -> PushReport:
    """Make Grafana hold the folder, the datasource and every dashboard; return what changed."""
    grafana = api or GrafanaApi.from_url(plan.grafana_url, credential=plan.token, timeout=10.0)
    report = PushReport()

    def write(what: str, action: Callable[[], Any]) -> None:
        report.changed.append(what)
        if not plan.dry_run:
            action()

    if _get(lambda: grafana.folder.get_folder(FOLDER_UID)) is None:
        write(f"folder {FOLDER_TITLE}", lambda: grafana.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID))
    else:
        report.unchanged.append(f"folder {FOLDER_TITLE}")
    ours_ds = datasource(plan)
    stored_ds = _get(lambda: grafana.datasource.get_datasource_by_uid(DATASOURCE_UID))
    if stored_ds is None:
        write("datasource CampusGuard InfluxDB", lambda: grafana.datasource.create_datasource(ours_ds))
    elif any(stored_ds.get(k) != v for k, v in ours_ds.items() if k != "secureJsonData"):  # Grafana never returns it
        write(
            "datasource CampusGuard InfluxDB",
            lambda: grafana.datasource.update_datasource_by_uid(DATASOURCE_UID, ours_ds),
        )
    else:
        report.unchanged.append("datasource CampusGuard InfluxDB")
    for path in sorted(plan.dashboards.glob("*.json")):
        _push_dashboard(grafana, _dashboard(path), report, write)
    return report


def _push_dashboard(
    grafana: GrafanaApi, ours: dict[str, Any], report: PushReport, write: Callable[[str, Callable[[], Any]], None]
) -> None:
    stored = _get(lambda: grafana.dashboard.get_dashboard(ours["uid"]))  # type: ignore[no-untyped-call]
    if _same_dashboard(stored, ours):
        report.unchanged.append(f"dashboard {ours['title']}")
        return
    body = {"dashboard": ours, "folderUid": FOLDER_UID, "overwrite": True, "message": "campusguard dashboards push"}
    write(f"dashboard {ours['title']}", lambda: grafana.dashboard.update_dashboard(body))  # type: ignore[no-untyped-call]
