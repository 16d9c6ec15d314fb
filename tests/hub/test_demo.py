"""``campusguard demo --duration 20`` as a user runs it: the printed demo login and token work, and the
devices of both schools are online in the API."""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_both_schools_online(tmp_path: Path) -> None:
    # --port 0: the system picks a free port, and the printed URL is the one bound, not ":0".
    cmd = [sys.executable, "-m", "campusguard.cli", "demo", "--duration", "20", "--port", "0"]
    proc = subprocess.Popen(
        [*cmd, "--data-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        console = ""
        deadline = time.monotonic() + 15
        while not console and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("CampusGuard console: "):
                console = line.split(": ", 1)[1].strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", console) and not console.endswith(":0"), console
        demo_line = proc.stdout.readline()  # exactly the next line
        match = re.fullmatch(r"Demo login: demo / (\S+)   API token: Authorization: Bearer (\S+)\n", demo_line)
        assert match, demo_line
        password, token = match.groups()
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{console}/api/v1/devices", timeout=5).status_code == 401  # auth is on
        login = httpx.post(f"{console}/api/v1/auth/login", json={"username": "demo", "password": password}, timeout=5)
        assert login.status_code == 200
        assert login.json()["user"]["role"] == "district_admin"
        online: dict[str, int] = {}
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            params = {"availability": "online"}
            items = httpx.get(f"{console}/api/v1/devices", params=params, headers=headers, timeout=5).json()["items"]
            online = {s: sum(d["school_id"] == s for d in items) for s in ("school-001", "school-002", "school-003")}
            if online == {"school-001": 4, "school-002": 4, "school-003": 2}:
                break
            time.sleep(0.3)
        assert online == {"school-001": 4, "school-002": 4, "school-003": 2}
        assert httpx.get(f"{console}/healthz", timeout=5).status_code == 200
        plans = httpx.get(f"{console}/api/v1/patrols/plans", headers=headers, timeout=5).json()["items"]
        assert sorted(p["scope"] for p in plans) == ["school:school-001", "school:school-002"]
        # Each demo school has its known compliance faults, with their citations; schools 1 and 2 keep
        # their video patrol plans (made by the demo), school 3 has no camera to patrol.
        params = {"status": "fail"}
        failing = httpx.get(f"{console}/api/v1/compliance/findings", params=params, headers=headers, timeout=5).json()
        assert {(f["school_id"], f["rule_id"], f["subject"]) for f in failing} == {
            ("school-001", "ZJ2018-FENCE-LOW-WALL", "segment:west"),
            ("school-002", "ZJ2018-GATE-CAM-POLICE", "device:s2-cam-gate"),
            ("school-003", "ZJ2018-KG-ACCESS", "school-003"),  # a kindergarten with no access control
            ("school-003", "ZJ2018-VIDEO-PATROL", "school-003"),  # and no camera to patrol online
        }
        assert proc.wait(30) == 0, "the demo must stop by itself after --duration"
        assert (tmp_path / "hub.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize("command", ["demo", "hub"])
def test_a_taken_port_is_one_clear_line(command: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if command == "demo":
            args = ["demo", "--duration", "5", "--port", str(port), "--data-dir", str(tmp_path)]
        else:
            config = tmp_path / "hub.yaml"
            db = tmp_path / "hub.db"
            config.write_text(f"database: {{url: 'sqlite:///{db}'}}\napi: {{port: {port}}}\n", encoding="utf-8")
            args = ["hub", "--config", str(config)]
        done = subprocess.run(
            [sys.executable, "-m", "campusguard.cli", *args], capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr  # one line, no traceback
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr
