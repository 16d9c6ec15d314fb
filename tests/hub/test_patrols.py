"""Online video patrol (网上巡查) through the real pieces: mosquitto, a simulated MJPEG camera, the agent
and the hub (SQLite and PostgreSQL). A school admin keeps a plan, a guard walks a round and reports a
problem, which opens an IT alarm with the camera's picture; the records, the day's counts and the
audit log show it; nobody sees another school's patrols or cameras."""

from pathlib import Path
from typing import Any

import pytest

from hub.domain.state import DeviceState
from tests.hub.support import RunningHub, create_account, eventually
from tests.hub.test_alarm_pictures import camera_system, pictures
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration

PLAN = {"scope": "school:school-a", "name": "大门巡查", "cameras": [{"school_id": "school-a", "device_id": "cam-gate"}],
        "start": "00:00", "end": "00:00", "every_min": 60, "grace_min": 15}  # fmt: skip


class Caller:
    def __init__(self, hub: RunningHub, token: str) -> None:
        self.hub, self.headers = hub, {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **params: Any) -> Any:
        rsp = await self.hub.http.get(f"/api/v1{path}", params=params, headers=self.headers)
        return rsp.json() if rsp.status_code == 200 else rsp.status_code

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        rsp = await self.hub.http.request(method, f"/api/v1{path}", json=body, headers=self.headers)
        return rsp.status_code, rsp.json() if rsp.content else None


def callers(hub: RunningHub) -> dict[str, Caller]:
    accounts = [
        ("admin-a", "school_admin", ["school-a"], None), ("guard-a", "guard", ["school-a"], None),
        ("viewer-a", "viewer", ["school-a"], None), ("guard-b", "guard", ["school-b"], None),
        ("east", "district_admin", None, "east"),
    ]  # fmt: skip
    out = {}
    for name, role, schools, district in accounts:
        out[name] = Caller(hub, create_account(hub.services, name, role, schools=schools, district=district)[1])
    return out


async def plans_are_kept_by_admins_and_seen_in_scope(hub: RunningHub, who: dict[str, Caller]) -> str:
    assert (await who["guard-a"].send("POST", "/patrols/plans", PLAN))[0] == 403
    for bad, reason in [
        ({**PLAN, "cameras": [{"school_id": "school-b", "device_id": "cam-b"}]}, "only its cameras"),
        ({**PLAN, "cameras": [{"school_id": "school-a", "device_id": "panic-1"}]}, "no camera 'panic-1'"),
        ({**PLAN, "every_min": 10, "grace_min": 20}, "grace_min"), ({**PLAN, "start": "24:00"}, "start"),
        ({**PLAN, "cameras": []}, "cameras"), ({**PLAN, "cameras": PLAN["cameras"] * 2}, "twice"),
    ]:  # fmt: skip
        status, body = await who["admin-a"].send("POST", "/patrols/plans", bad)
        assert status == 422 and reason in str(body), (bad, body)
    status, plan = await who["admin-a"].send("POST", "/patrols/plans", PLAN)
    assert status == 201, plan
    district = {**PLAN, "scope": "district:east", "name": "区级抽查",
                "cameras": [*PLAN["cameras"], {"school_id": "school-b", "device_id": "cam-b"}]}  # fmt: skip
    assert (await who["admin-a"].send("POST", "/patrols/plans", district))[0] == 403
    assert (await who["east"].send("POST", "/patrols/plans", district))[0] == 201
    mine = await who["guard-a"].get("/patrols/plans")
    assert [p["name"] for p in mine["items"]] == ["大门巡查"]  # not the district's plan
    assert mine["items"][0]["current"]["state"] in ("due", "overdue") and mine["may_patrol"]
    assert (await who["guard-b"].get("/patrols/plans"))["items"] == []  # another school's guard
    assert sorted(p["name"] for p in (await who["east"].get("/patrols/plans"))["items"]) == ["区级抽查", "大门巡查"]
    return str(plan["id"])


async def a_round_with_a_problem(hub: RunningHub, who: dict[str, Caller], plan_id: str) -> dict[str, Any]:
    assert (await who["viewer-a"].send("POST", f"/patrols/plans/{plan_id}/runs"))[0] == 403
    assert (await who["guard-b"].send("POST", f"/patrols/plans/{plan_id}/runs"))[0] == 404
    name = "门卫" + "甲" * 198  # the longest display name an account may have
    assert (await hub.http.patch("/api/v1/users/guard-a", json={"display_name": name})).status_code == 200
    status, run = await who["guard-a"].send("POST", f"/patrols/plans/{plan_id}/runs")
    assert status == 201 and run["cameras"] == PLAN["cameras"] and run["officer_name"] == name
    again = await who["guard-a"].send("POST", f"/patrols/plans/{plan_id}/runs")
    assert again[1]["id"] == run["id"]  # a reload or a second click resumes the round under way
    checks = f"/patrols/runs/{run['id']}/checks"
    status, body = await who["guard-a"].send("POST", f"/patrols/runs/{run['id']}/finish")
    assert status == 409 and "school-a/cam-gate" in body["detail"]
    problem = {"school_id": "school-a", "device_id": "cam-gate", "result": "problem", "note": ""}
    assert (await who["guard-a"].send("POST", checks, problem))[0] == 422  # a problem says what is wrong
    assert (await who["admin-a"].send("POST", checks, {**problem, "note": "x"}))[0] == 403  # not their round
    assert (await who["guard-a"].send("POST", checks, {**problem, "device_id": "cam-b", "note": "x"}))[0] == 422
    status, check = await who["guard-a"].send("POST", checks, {**problem, "note": "画面被遮挡"})
    assert status == 200 and check["alarm_id"], check
    status, finished = await who["guard-a"].send("POST", f"/patrols/runs/{run['id']}/finish")
    assert status == 200 and finished["state"] == "completed" and finished["problems"] == 1
    assert (await who["guard-a"].send("POST", checks, {**problem, "note": "again"}))[0] == 409  # finished
    return {"run": finished, "alarm_id": check["alarm_id"]}


async def test_a_guard_walks_a_round_reports_a_problem_and_the_records_show_it(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    schools = [{"id": "school-a", "district": "east"}, {"id": "school-b", "district": "east"}]
    east = camera_system(mosquitto, db_url, tmp_path, districts=[{"id": "east"}], schools=schools)
    async with east as (hub, _, camera_port):
        await devices_and_gateways_as_it_staff_see_them(hub, camera_port)
        # School B's camera, as its own gateway would have announced it.
        hub.services.ingest.state.devices[("school-b", "cam-b")] = DeviceState("school-b", "gw-b", "cam-b", "camera")
        who = callers(hub)
        plan_id = await plans_are_kept_by_admins_and_seen_in_scope(hub, who)
        done = await a_round_with_a_problem(hub, who, plan_id)
        alarm_id = done["alarm_id"]

        alarm = await hub.get(f"/api/v1/alarms/{alarm_id}")
        assert (alarm["kind"], alarm["device_id"], alarm["state"]) == ("patrol_problem", "cam-gate", "raised")
        shot = await eventually(lambda: pictures(hub, alarm_id), 5)
        assert [p["device_id"] for p in shot] == ["cam-gate"]  # what the officer saw, beside the alarm
        cam = next(d for d in (await hub.get("/api/v1/devices"))["items"] if d["id"] == "cam-gate")
        assert (cam["availability"], cam["active_alarms"]) == ("online", 1)  # answers, and is in alarm

        # A second round finds it still wrong: the open alarm is the same one, not a second.
        _, again = await who["guard-a"].send("POST", f"/patrols/plans/{plan_id}/runs")
        _, check = await who["guard-a"].send(
            "POST", f"/patrols/runs/{again['id']}/checks",
            {"school_id": "school-a", "device_id": "cam-gate", "result": "problem", "note": "仍被遮挡"},
        )  # fmt: skip
        assert check["alarm_id"] == alarm_id
        assert len((await hub.get("/api/v1/alarms", kind="patrol_problem"))["items"]) == 1

        await records_and_counts(hub, who, plan_id, done["run"])


async def records_and_counts(hub: RunningHub, who: dict[str, Caller], plan_id: str, run: dict[str, Any]) -> None:
    records = await who["guard-a"].get("/patrols/runs", plan_id=plan_id)
    assert [r["state"] for r in records["items"]] == ["in_progress", "completed"]  # newest first
    kept = records["items"][1]
    assert kept["officer"] == "guard-a" and kept["checks"][0]["note"] == "画面被遮挡"
    assert (await who["guard-b"].get("/patrols/runs"))["items"] == []
    assert await who["guard-b"].get(f"/patrols/runs/{run['id']}") == 404
    plan = next(p for p in (await who["guard-a"].get("/patrols/plans"))["items"] if p["id"] == plan_id)
    assert plan["current"]["state"] == "done" and plan["today"]["done"] == 1
    assert plan["last_run"]["state"] == "in_progress"
    day = plan["current"]["at"]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.fromisoformat(day).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    counted = await who["guard-a"].get("/patrols/counts", **{"from": today, "to": today})
    [row] = [c for c in counted["items"] if c["plan_id"] == plan_id]
    assert row["day"] == today and row["done"] == 1 and row["owed"] >= 1
    assert await who["guard-a"].get("/patrols/counts", **{"from": today, "to": "2020-01-01"}) == 422
    for first, last in (("0001-01-01", "0001-01-01"), ("9999-12-31", "9999-12-31"), (today, "2099-01-01")):
        assert await who["guard-a"].get("/patrols/counts", **{"from": first, "to": last}) == 422, (first, last)
    assert await who["guard-a"].get("/patrols/runs", since="2026-01-01T00:00:00") == 422  # a time without its zone
    actions = [e["action"] for e in (await hub.get("/api/v1/audit", limit=200))["items"]]
    for action in ("patrol.plan.create", "patrol.start", "patrol.problem", "patrol.complete"):
        assert action in actions, action


async def devices_and_gateways_as_it_staff_see_them(hub: RunningHub, camera_port: int) -> None:
    """The device list says where each device is polled (no credentials), when it was last heard of
    and its open alarms; the gateway list its agent's version, heartbeat lag and unsent spool."""
    from agent import __version__

    async def heard() -> Any:
        items = (await hub.get("/api/v1/devices"))["items"]
        return items if all(d["last_seen"] for d in items) else None

    devices = {d["id"]: d for d in await eventually(heard, 10)}
    assert devices["cam-gate"]["address"] == f"http://127.0.0.1:{camera_port}/mjpeg"
    assert devices["panic-1"]["address"].startswith("tcp://127.0.0.1:")
    assert devices["panic-1"]["active_alarms"] == 0 and devices["cam-gate"]["fault"] is None

    async def settled() -> Any:  # once the start-up events are acknowledged, nothing waits in the spool
        [gateway] = (await hub.get("/api/v1/gateways"))["items"]
        return gateway if gateway["spool_pending"] == 0 else None

    gateway = await eventually(settled, 10)
    assert gateway["agent_version"] == __version__ and gateway["devices"] == 2
    assert gateway["last_heartbeat"] and gateway["last_seen"]
    assert 0 <= gateway["publish_lag_s"] < 10
