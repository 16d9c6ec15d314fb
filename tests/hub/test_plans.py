"""Response plans (处置预案): the most specific plan for an alarm (school, district, city-wide, the
bundled default), who may save them, and bad input refused with the field and reason."""

from pathlib import Path

import pytest

from hub.db.models import Alarm, School
from tests.hub.support import create_account, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration

PLAN = {"steps": ["查看画面", "派人到场"], "contacts": [{"name": "校长", "role": "值班领导", "phone": "139 0000 0001"}]}


def _alarm(alarm_id: str, school: str, kind: str = "panic") -> Alarm:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return Alarm(
        id=alarm_id, school_id=school, gateway_id="gw", device_id="box", kind=kind, severity="critical",
        state="raised", condition="active", latched=True, raised_at=now, received_at=now,
    )  # fmt: skip


async def test_the_most_specific_plan_applies_and_only_its_admins_may_change_it(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = hub_settings(
        mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix(),
        districts=[{"id": "east"}, {"id": "west"}],
        schools=[{"id": "s1", "district": "east"}, {"id": "s2", "district": "east"}, {"id": "s3", "district": "west"}],
    )  # fmt: skip
    async with running_hub(settings) as hub:
        with hub.services.sessions.begin() as db:
            db.add_all([School(id=s, first_seen=_alarm("x", s).raised_at) for s in ("s1", "s2", "s3")])
            db.add_all([_alarm("a1", "s1"), _alarm("a2", "s2"), _alarm("a3", "s3"), _alarm("a4", "s1", "tamper")])
        tokens = {
            name: create_account(hub.services, name, role, schools=schools, district=district)[1]
            for name, role, schools, district in [
                ("city", "district_admin", None, "*"), ("east-admin", "district_admin", None, "east"),
                ("s1-admin", "school_admin", ["s1"], None), ("s1-guard", "guard", ["s1"], None),
            ]
        }  # fmt: skip

        def auth(name: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[name]}"}

        async def plan_of(alarm: str) -> tuple[str, list[str]]:
            body = (await hub.http.get(f"/api/v1/alarms/{alarm}/plan", headers=auth("city"))).json()
            return body["scope"], body["steps"]

        assert (await plan_of("a1"))[0] == "default"  # the bundled plan for a panic
        assert (await hub.http.get("/api/v1/alarms/a4/plan")).status_code == 404  # none for tamper yet
        saved = await hub.http.put("/api/v1/response-plans/district:east/panic", json=PLAN, headers=auth("east-admin"))
        assert saved.status_code == 200, saved.text
        school_plan = {**PLAN, "steps": ["s1 自己的第一步"]}
        mine = await hub.http.put("/api/v1/response-plans/school:s1/panic", json=school_plan, headers=auth("s1-admin"))
        assert mine.status_code == 200
        assert await plan_of("a1") == ("school:s1", ["s1 自己的第一步"])  # the school's own
        assert await plan_of("a2") == ("district:east", ["查看画面", "派人到场"])  # its district's
        assert (await plan_of("a3"))[0] == "default"  # another district's plan does not reach it
        guard_view = (await hub.http.get("/api/v1/alarms/a1/plan", headers=auth("s1-guard"))).json()
        assert guard_view["contacts"] == [{"name": "校长", "role": "值班领导", "phone": "139 0000 0001"}]

        # Who may save what: a guard nothing; a school admin only their school; a district admin
        # their district and schools, not the city-wide plans nor another district.
        for who, scope in [("s1-guard", "school:s1"), ("s1-admin", "school:s2"), ("s1-admin", "district:east"),
                           ("east-admin", "*"), ("east-admin", "district:west")]:  # fmt: skip
            refused = await hub.http.put(f"/api/v1/response-plans/{scope}/panic", json=PLAN, headers=auth(who))
            assert refused.status_code == 403, (who, scope)
        assert (
            await hub.http.put("/api/v1/response-plans/*/tamper", json=PLAN, headers=auth("city"))
        ).status_code == 200
        assert (await plan_of("a4"))[0] == "*"

        # Bad plans: the field and the reason.
        for bad, field in [
            ({"steps": []}, "steps"), ({"steps": ["x" * 201]}, "steps"),
            ({"steps": ["a"], "contacts": [{"name": "n", "phone": "call me"}]}, "phone"),
            ({"steps": ["a"], "colour": "red"}, "colour"),
        ]:  # fmt: skip
            refused = await hub.http.put("/api/v1/response-plans/school:s1/panic", json=bad, headers=auth("s1-admin"))
            assert refused.status_code == 422 and field in refused.text, (bad, refused.text)
        assert (await hub.http.put("/api/v1/response-plans/planet:x/panic", json=PLAN)).status_code == 422

        # Deleting the school's plan brings the district's back; the audit log has every change.
        gone = await hub.http.delete("/api/v1/response-plans/school:s1/panic", headers=auth("s1-admin"))
        assert gone.status_code == 204
        assert (await plan_of("a1"))[0] == "district:east"
        audit = (await hub.http.get("/api/v1/audit", params={"actor": "s1-admin"})).json()["items"]
        assert {e["action"] for e in audit} >= {"plan.create", "plan.delete"}
        listed = (await hub.http.get("/api/v1/response-plans", headers=auth("s1-guard"))).json()
        assert {(p["scope"], p["kind"]) for p in listed} == {("district:east", "panic"), ("*", "tamper")}


async def test_a_mute_is_timed_scoped_and_audited(mosquitto: Mosquitto, tmp_path: Path) -> None:
    from datetime import datetime

    settings = hub_settings(
        mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix(), alarms={"mute_s": 120},
        schools=[{"id": "s1"}, {"id": "s2"}],
    )  # fmt: skip
    async with running_hub(settings) as hub:
        with hub.services.sessions.begin() as db:
            db.add_all([_alarm("a1", "s1"), _alarm("a2", "s2")])
        _, guard = create_account(hub.services, "g1", "guard", schools=["s1"])
        headers = {"Authorization": f"Bearer {guard}"}
        muted = await hub.http.post("/api/v1/alarms/mute", json={"alarm_ids": ["a1"]}, headers=headers)
        assert muted.status_code == 200
        until = datetime.fromisoformat(muted.json()["until"])
        assert 110 < (until - hub.services.now()).total_seconds() <= 120  # for alarms.mute_s, never for good
        other = await hub.http.post("/api/v1/alarms/mute", json={"alarm_ids": ["a1", "a2"]}, headers=headers)
        assert other.status_code == 404  # another school's alarm: nothing is muted, nothing recorded
        back = await hub.http.post("/api/v1/alarms/mute", json={"alarm_ids": ["a1"], "mute": False}, headers=headers)
        assert back.json() == {"until": None}
        audit = (await hub.http.get("/api/v1/audit", params={"actor": "g1"})).json()["items"]
        assert sorted(e["action"] for e in audit) == ["alarm.mute", "alarm.unmute"]
        assert (await hub.http.post("/api/v1/alarms/mute", json={"alarm_ids": []}, headers=headers)).status_code == 422


async def test_bulk_acknowledgement_takes_technical_alarms_only_and_answers_for_each(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = hub_settings(
        mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix(), schools=[{"id": "s1"}, {"id": "s2"}]
    )
    async with running_hub(settings) as hub:
        with hub.services.sessions.begin() as db:
            db.add_all([
                _alarm("t1", "s1", "device_offline"), _alarm("t2", "s1", "video_blind"), _alarm("p1", "s1", "panic"),
                _alarm("x1", "s2", "device_offline"),
            ])  # fmt: skip
        _, it = create_account(hub.services, "it1", "it_staff", schools=["s1"])
        body = {"alarm_ids": ["t1", "t2", "p1", "x1", "nope", "t1"], "note": "机房断电，已通知运维"}
        done = await hub.http.post("/api/v1/alarms/acknowledge", json=body, headers={"Authorization": f"Bearer {it}"})
        assert done.status_code == 200, done.text
        assert [(r["alarm_id"], r["status"]) for r in done.json()] == [
            ("t1", 200), ("t2", 200),
            ("p1", 422),  # a security alarm: acknowledged on its own
            ("x1", 404), ("nope", 404),  # another school's, and none: the same answer
        ]  # fmt: skip
        t1 = await hub.get("/api/v1/alarms/t1")
        assert (t1["state"], t1["acknowledged_by"], t1["acknowledge_note"]) == ("acknowledged", "it1", body["note"])
        assert (await hub.get("/api/v1/alarms/x1"))["state"] == "raised"
        audit = (await hub.http.get("/api/v1/audit", params={"actor": "it1", "action": "alarm.acknowledge"})).json()
        assert sorted(e["target"] for e in audit["items"] if e["outcome"] == "ok") == ["t1", "t2"]
