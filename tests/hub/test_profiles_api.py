"""School profiles edited in the hub through the API and ``campusguard compliance import`` (YAML or
CSV), against a real uvicorn-served hub: validated with the field and reason, scoped, audited, and
judged again at once."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub.support import create_account, eventually, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration

FILE = """schools:
  - school_id: school-a
    type: primary
    perimeter: [{id: west, wall_height_m: 1.6}]
  - school_id: school-b
    type: kindergarten
    pickup_cards: true
"""


def failing(rows: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(r["rule_id"], r["subject"]) for r in rows if r["status"] == "fail"}


async def test_a_profile_edited_in_the_hub_replaces_the_file_s_and_is_judged_at_once(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(FILE, encoding="utf-8")
    settings = hub_settings(
        mosquitto.url, db_url, unique_prefix(),
        schools=[{"id": "school-a", "district": "d1"}, {"id": "school-b", "district": "d2"}],
        districts=[{"id": "d1"}, {"id": "d2"}],
        compliance={"profiles": str(profiles), "packs": ["zhenjiang-2018"], "settle_s": 0},
    )  # fmt: skip
    async with running_hub(settings) as hub:
        _, it = create_account(hub.services, "it-a", "it_staff", schools=["school-a"])
        _, guard = create_account(hub.services, "guard-a", "guard", schools=["school-a"])
        as_it = {"Authorization": f"Bearer {it}"}
        before = await hub.get("/api/v1/compliance/findings", school="school-a")
        assert ("ZJ2018-FENCE-LOW-WALL", "segment:west") in failing(before)

        fixed = {
            "type": "primary",
            "perimeter": [{"id": "west", "wall_height_m": 1.6, "fence_zone": "a-fence:1"}],
            "points": [{"device_id": "cam-1", "kind": "camera", "location": "main_gate",
                        "networked": [{"platform": "police", "how": "registration"}],
                        "attributes": {"resolution": "1920x1080"}}],
        }  # fmt: skip
        saved = await hub.http.put("/api/v1/compliance/profiles/school-a", json=fixed, headers=as_it)
        assert saved.status_code == 200, saved.text
        assert saved.json()["source"] == "hub" and saved.json()["updated_by"] == "it-a"
        after = await hub.get("/api/v1/compliance/findings", school="school-a")
        assert ("ZJ2018-FENCE-LOW-WALL", "segment:west") not in failing(after)  # the fence zone now covers it
        assert ("ZJ2018-CAM-LOCAL", "device:cam-1") in failing(after)  # the new camera: not on the local platform
        got = await hub.get("/api/v1/compliance/profiles/school-a")
        assert got["profile"]["perimeter"][0]["fence_zone"] == "a-fence:1"

        async def ledger_has_it() -> bool:  # the school was judged again and recorded at once
            rows = await hub.get("/api/v1/compliance/findings", school="school-a", status="fail")
            return any(r["subject"] == "device:cam-1" and r["since"] for r in rows)

        await eventually(ledger_has_it, 10)
        audit = (await hub.http.get("/api/v1/audit", params={"actor": "it-a"})).json()["items"]
        assert [e["action"] for e in audit][:1] == ["profile.create"]

        # A bad profile: the field and the reason, and nothing saved.
        bad = {**fixed, "points": [{"device_id": "x", "kind": "camera", "location": "roof"}]}
        refused = await hub.http.put("/api/v1/compliance/profiles/school-a", json=bad, headers=as_it)
        assert refused.status_code == 422 and "points.0.location" in refused.json()["detail"]
        assert "unknown location 'roof'" in refused.json()["detail"]
        no_pack = await hub.http.put("/api/v1/compliance/profiles/school-a", json={"packs": ["mars"]}, headers=as_it)
        assert no_pack.status_code == 422 and "mars" in no_pack.json()["detail"]
        other = await hub.http.put("/api/v1/compliance/profiles/school-a", json={"school_id": "b"}, headers=as_it)
        assert other.status_code == 422
        huge = {"points": [{"device_id": f"d{i}", "kind": "camera", "location": "other"} for i in range(5001)]}
        assert (await hub.http.put("/api/v1/compliance/profiles/school-a", json=huge, headers=as_it)).status_code == 422
        # Roles and scope: a guard may not edit; another school is not there for this account.
        as_guard = {"Authorization": f"Bearer {guard}"}
        assert (
            await hub.http.put("/api/v1/compliance/profiles/school-a", json=fixed, headers=as_guard)
        ).status_code == 403
        assert (
            await hub.http.put("/api/v1/compliance/profiles/school-b", json=fixed, headers=as_it)
        ).status_code == 404
        assert (await hub.http.get("/api/v1/compliance/profiles/school-b", headers=as_it)).status_code == 404
        listed = (await hub.http.get("/api/v1/compliance/profiles", headers=as_it)).json()
        assert [p["school_id"] for p in listed] == ["school-a"]

        # Deleting the hub's profile brings the file's back.
        gone = await hub.http.delete("/api/v1/compliance/profiles/school-a", headers=as_it)
        assert gone.status_code == 204
        assert (await hub.get("/api/v1/compliance/profiles/school-a"))["source"] == "file"
        again = await hub.get("/api/v1/compliance/findings", school="school-a")
        assert ("ZJ2018-FENCE-LOW-WALL", "segment:west") in failing(again)
        assert (await hub.http.delete("/api/v1/compliance/profiles/school-a", headers=as_it)).status_code == 404


async def run_import(*args: str, token: Path) -> "subprocess.CompletedProcess[str]":
    """The CLI in a process of its own, off this loop (which serves the hub it talks to)."""
    cmd = [sys.executable, "-m", "campusguard.cli", "compliance", "import", *args, "--token-file", str(token)]
    return await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60, check=False)


async def test_import_sends_nothing_while_a_row_is_wrong_and_then_saves_every_school(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    settings = hub_settings(mosquitto.url, db_url, unique_prefix(), compliance={"packs": ["zhenjiang-2018"]})
    async with running_hub(settings) as hub:
        _, admin = create_account(hub.services, "importer", "district_admin", district="*")
        token = tmp_path / "token"
        token.write_text(admin, encoding="utf-8")
        url = f"http://127.0.0.1:{settings.api.port}"
        sheet = tmp_path / "schools.csv"
        sheet.write_text(
            "\ufeffschool_id,type,pickup_cards,device_id,kind,location,networked,resolution,segment_id,wall_height_m\n"
            "kg-1,kindergarten,否,cam-1,camera,main_gate,police:registration;local_video:registration,1920x1080,,\n"
            "kg-1,,,,,,,,north,1.5\n"
            "ps-2,primary,,box-1,one_click_alarm,guard_room,police:forwarding_test,,,\n"
            "ps-2,,,cam-9,camera,canteen,local_video:registration,1280x720,,\n",
            encoding="utf-8",
        )
        broken = tmp_path / "broken.csv"
        broken.write_text(sheet.read_text(encoding="utf-8").replace("canteen", "kitchen"), encoding="utf-8")
        done = await run_import("--url", url, str(broken), token=token)
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert "broken.csv: row 5: location: " in done.stderr and "kitchen" in done.stderr
        assert await hub.get("/api/v1/compliance/profiles") == []  # nothing was sent

        done = await run_import("--url", url, str(sheet), token=token)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["kg-1\tsaved\t1 devices", "ps-2\tsaved\t2 devices"]
        kg = (await hub.get("/api/v1/compliance/profiles/kg-1"))["profile"]
        assert kg["type"] == "kindergarten" and kg["pickup_cards"] is False
        assert kg["perimeter"] == [{"id": "north", "wall_height_m": 1.5}]
        assert kg["points"][0]["networked"] == [
            {"platform": "police", "how": "registration"},
            {"platform": "local_video", "how": "registration"},
        ]
        rows = await hub.get("/api/v1/compliance/findings", school="kg-1", status="fail")
        assert failing(rows) == {
            ("ZJ2018-FENCE-LOW-WALL", "segment:north"),
            ("ZJ2018-KG-ACCESS", "kg-1"),
            ("ZJ2018-VIDEO-PATROL", "kg-1"),
        }
        # The same import again changes nothing but the time it was saved: it is idempotent.
        assert (await run_import("--url", url, str(sheet), token=token)).returncode == 0
        assert len(await hub.get("/api/v1/compliance/profiles")) == 2
        bad_token = tmp_path / "bad"
        bad_token.write_text("nope", encoding="utf-8")
        refused = await run_import("--url", url, str(sheet), token=bad_token)
        assert refused.returncode == 2 and "401" in refused.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("school_id,colour\ns,red\n", r"row 1: columns: .*unknown \['colour'\]"),
        ("type\nprimary\n", r"row 1: columns: need school_id"),
        ("school_id,type\ns,primary\ns,kindergarten\n", r"row 3: type: 'kindergarten' here, but 'primary'"),
        ("school_id,boarding\ns,maybe\n", r"row 2: boarding: not yes or no"),
        ("school_id,device_id,kind,location,networked\ns,d,camera,main_gate,police\n", r"row 2: networked: 'police'"),
        (
            "school_id,device_id,kind,location,networked\ns,d,camera,main_gate,moon:registration\n",
            r"row 2: networked: ",
        ),
        ("school_id,segment_id,wall_height_m\ns,n,2\ns,e,high\n", r"row 3: wall_height_m: "),
        ("school_id,device_id,kind,location,retention_days\ns,d,camera,main_gate,x\n", r"row 2: retention_days: "),
        (",type\n,primary\n", r"row 1: columns: need school_id|row 2: school_id: empty"),
    ],
)
def test_a_bad_sheet_names_the_row_the_column_and_the_reason(tmp_path: Path, text: str, message: str) -> None:
    from hub.compliance.csvimport import read_csv
    from hub.compliance.files import ComplianceFileError

    sheet = tmp_path / "sheet.csv"
    sheet.write_text(text, encoding="utf-8")
    with pytest.raises(ComplianceFileError, match=rf"sheet\.csv: .*{message}"):
        read_csv(sheet)


def test_an_api_client_sees_the_profile_routes_documented(tmp_path: Path) -> None:
    from hub.app import create_app

    schema = create_app(
        hub_settings("mqtt://127.0.0.1:1", f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix())
    ).openapi()
    assert {"get", "put", "delete"} <= set(schema["paths"]["/api/v1/compliance/profiles/{school_id}"])
    put = schema["paths"]["/api/v1/compliance/profiles/{school_id}"]["put"]
    assert "422" in put["responses"] and "field and reason" in put["responses"]["422"]["description"]
