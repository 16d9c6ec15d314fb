"""Accounts through the real app: credentials and CSRF on every state change, each role's
limits and scope, the login rate limit, sessions, tokens, the audit log and the CLI.

The app is ``create_app`` driven in process through httpx's ASGI transport (no broker needed: the lifespan, which
runs ingest and MQTT, is not started); the database is seeded with two districts' schools. The
scoping test runs on SQLite and PostgreSQL.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from campusguard.cli import main
from hub.api.deps import Services
from hub.app import create_app
from hub.auth.models import ApiToken, AuditEvent, AuthSession
from hub.db.models import Alarm, Device, Gateway, School, Transition
from hub.domain.state import DeviceState
from hub.gateways import registry
from hub.patrols.models import PatrolPlanRow, PatrolRunRow
from hub.settings import HubSettings
from tests.hub.support import TEST_PASSWORD, create_account

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DIRECTORY = [
    {"id": "school-a", "name": "第一实验小学", "district": "d1"},
    {"id": "school-c", "name": "第三小学", "district": "d1"},
    {"id": "school-b", "name": "阳光幼儿园", "district": "d2"},
]


@dataclass
class Clock:
    """A settable clock, injected into the app."""

    at: datetime = T0

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Hub:
    """The app, its services, its clock and the seeded accounts' tokens."""

    app: FastAPI
    svc: Services
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, base_url: str = "http://testserver") -> httpx.AsyncClient:
        """A browser-like client (keeps cookies), calling the app in process."""
        transport = httpx.ASGITransport(self.app, client=("192.0.2.7", 50000))
        return httpx.AsyncClient(transport=transport, base_url=base_url)

    def bearer(self, username: str) -> dict[str, str]:
        """Authorization header of an account's API token."""
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def settings_for(db_url: str, **api: Any) -> HubSettings:
    """Hub settings with the test directory."""
    return HubSettings.model_validate(
        {
            "database": {"url": db_url},
            "api": api,
            "schools": DIRECTORY,
            "districts": [{"id": "d1", "name": "一区"}, {"id": "d2", "name": "二区"}],
        }
    )


def seed(svc: Services) -> None:
    """In each school: a gateway, a panic box and a camera; a panic and a device_offline alarm."""
    with svc.sessions.begin() as db:
        for school in ("school-a", "school-b", "school-c"):
            db.add(School(id=school, name="", first_seen=T0))
            db.add(Gateway(school_id=school, id="gw-01", availability="online", since=T0, last_seq=0))
            for device, kind in (("panic-1", "one_click_alarm"), ("cam-1", "camera")):
                db.add(
                    Device(school_id=school, id=device, gateway_id="gw-01", kind=kind, availability="online", since=T0)
                )
                db.add(Transition(school_id=school, gateway_id="gw-01", device_id=device, at=T0, availability="online"))
            for kind, device, latched in (("panic", "panic-1", True), ("device_offline", "cam-1", False)):
                db.add(
                    Alarm(
                        id=f"{school}-{kind}", school_id=school, gateway_id="gw-01", device_id=device, kind=kind,
                        severity="critical", latched=latched, state="raised", condition="active", raised_at=T0,
                        escalation_level=0,
                    )
                )  # fmt: skip


ACCOUNTS: dict[str, dict[str, Any]] = {
    "admin": {"role": "district_admin", "district": "*"},
    "d1-admin": {"role": "district_admin", "district": "d1"},
    "guard-a": {"role": "guard", "schools": ["school-a"]},
    "guard-b": {"role": "guard", "schools": ["school-b"]},
    "it-a": {"role": "it_staff", "schools": ["school-a"]},
    "viewer-a": {"role": "viewer", "schools": ["school-a"]},
    "head-a": {"role": "school_admin", "schools": ["school-a"]},
}


def make_hub(db_url: str, accounts: list[str] | None = None, **api: Any) -> Hub:
    """A seeded app with the named accounts (all by default)."""
    clock = Clock()
    app = create_app(settings_for(db_url, **api), now=clock)
    hub = Hub(app, app.state.services, clock)
    seed(hub.svc)
    for name in accounts if accounts is not None else ACCOUNTS:
        hub.tokens[name] = create_account(hub.svc, name, **ACCOUNTS[name])[1]
    return hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A seeded hub on SQLite with every test account."""
    made = make_hub(f"sqlite:///{tmp_path / 'hub.db'}")
    yield made
    made.svc.sessions.kw["bind"].dispose()


async def login(client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> str:
    """Sign in; the CSRF token."""
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def ids(response: Any) -> set[str]:
    """The ids of a list response."""
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


# -- every state-changing route ------------------------------------------------------------------


def state_changing_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every POST/PUT/PATCH/DELETE route of the API but login (from OpenAPI)."""
    found = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if path.startswith("/api/") and method in ("post", "put", "patch", "delete")
    ]
    return sorted(r for r in found if r[1] != "/api/v1/auth/login")


PATROL_PLAN = {"scope": "school:school-a", "name": "p", "cameras": [{"school_id": "school-a", "device_id": "cam-csrf"}]}


async def test_every_state_changing_route_needs_credentials_and_the_csrf_token(hub: Hub) -> None:
    routes = state_changing_routes(hub.app)
    assert len(routes) >= 8, routes  # acknowledge, resolve, logout, password, users, tokens...
    with hub.svc.sessions() as db:
        token_id = db.scalars(select(ApiToken.id).order_by(ApiToken.id.desc())).first()
    with hub.svc.sessions.begin() as db:
        registry.add(db, "school-a/gw-reg", hub.clock())
        db.add(PatrolPlanRow(
            id="plan-csrf", scope="school:school-a", name="p", cameras=[["school-a", "cam-csrf"]], start="00:00",
            end="00:00", every_min=60, grace_min=0, enabled=True, created_at=hub.clock(),
            owed_from=hub.clock(), created_by="admin",
            updated_at=hub.clock(), updated_by="admin",
        ))  # fmt: skip
        db.add(PatrolRunRow(
            id="run-csrf", plan_id="plan-csrf", scope="school:school-a", plan_name="p",
            cameras=[["school-a", "cam-csrf"]], officer="admin", state="in_progress",
            started_at=hub.clock(), problems=0,
        ))  # fmt: skip
    hub.svc.ingest.state.devices[("school-a", "cam-csrf")] = DeviceState("school-a", "gw", "cam-csrf", "camera")
    values = {
        "alarm_id": "school-a-device_offline",
        "username": "guard-a",
        "token_id": str(token_id),
        "school_id": "school-a",
        "gateway_id": "gw-reg",
        "scope": "school:school-a",
        "kind": "panic",
        "plan_id": "plan-csrf",
        "run_id": "run-csrf",
    }
    bodies: dict[str, dict[str, Any]] = {
        "/api/v1/alarms/{alarm_id}/acknowledge": {"note": "seen"},
        "/api/v1/alarms/{alarm_id}/resolve": {"note": "camera replaced"},
        "/api/v1/auth/password": {"current_password": TEST_PASSWORD, "new_password": TEST_PASSWORD},
        "/api/v1/users": {"username": "new-guard", "role": "guard", "schools": ["school-a"]},
        "/api/v1/users/{username}": {"display_name": "门卫 A"},
        "/api/v1/users/{username}/tokens": {"name": "integration"},
        "/api/v1/gateway-registry": {"name": "school-a/gw-new"},
        "/api/v1/compliance/profiles/{school_id}": {"type": "primary"},
        "/api/v1/response-plans/{scope}/{kind}": {"steps": ["查看画面"]},
        "/api/v1/alarms/mute": {"alarm_ids": ["school-a-device_offline"]},
        "/api/v1/alarms/acknowledge": {"alarm_ids": ["nope"]},
        "/api/v1/patrols/plans": PATROL_PLAN,
        "/api/v1/patrols/plans/{plan_id}": PATROL_PLAN,
        "/api/v1/patrols/runs/{run_id}/checks": {"school_id": "school-a", "device_id": "cam-csrf", "result": "normal"},
    }
    browser = hub.client()
    csrf = await login(browser, "admin")
    anonymous = hub.client()
    for method, template in routes:
        path = template.format(**values)
        body = bodies.get(template)
        assert (await anonymous.request(method, path, json=body)).status_code == 401, (method, path)
        for header in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
            response = await browser.request(method, path, json=body, headers=header)
            assert response.status_code == 403, (method, path, header, response.text)
            assert response.json() == {"detail": "CSRF token missing or wrong"}
    # and with credentials they work: by API token (no CSRF), then by the session with its token
    expected = {"POST": {200, 201, 204}, "PUT": {200}, "PATCH": {200}, "DELETE": {204}}
    for method, template in sorted(routes, key=lambda r: (r[0] == "DELETE", r)):  # what is made, then removed
        if template == "/api/v1/auth/logout":
            continue
        path, body = template.format(**values), bodies.get(template)
        response = await anonymous.request(method, path, json=body, headers=hub.bearer("admin"))
        assert response.status_code in expected[method], (method, path, response.text)
    assert (await browser.get("/api/v1/auth/me")).status_code == 401  # the new password ended the session
    csrf = await login(browser, "admin")
    assert (await browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
    assert (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_a_session_with_its_csrf_token_can_acknowledge(hub: Hub) -> None:
    browser = hub.client()
    csrf = await login(browser, "guard-a")
    assert browser.cookies.get("cg_csrf") == csrf  # the console reads it from the cookie or /auth/me
    assert (await browser.get("/api/v1/auth/me")).json()["csrf_token"] == csrf
    response = await browser.post(
        "/api/v1/alarms/school-a-panic/acknowledge", json={"note": "去现场", "by": "someone else"}
    )
    assert response.status_code == 403
    response = await browser.post(
        "/api/v1/alarms/school-a-panic/acknowledge",
        json={"note": "去现场", "by": "someone else"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    assert response.json()["acknowledged_by"] == "guard-a"  # the account, never the body's "by"


# -- roles and scope -------------------------------------------------------------------------------


@pytest.mark.integration
async def test_a_guard_of_school_a_sees_and_touches_only_school_a(db_url: str) -> None:
    hub = make_hub(db_url, ["guard-a", "admin"])
    try:
        guard = hub.client()
        guard.headers.update(hub.bearer("guard-a"))
        assert ids(await guard.get("/api/v1/alarms")) == {"school-a-panic", "school-a-device_offline"}
        assert ids(await guard.get("/api/v1/alarms", params={"school_id": "school-b"})) == set()
        assert (await guard.get("/api/v1/alarms")).json()["total"] == 2
        assert {(d["school_id"], d["id"]) for d in (await guard.get("/api/v1/devices")).json()["items"]} == {
            ("school-a", "panic-1"),
            ("school-a", "cam-1"),
        }
        assert {g["school_id"] for g in (await guard.get("/api/v1/gateways")).json()["items"]} == {"school-a"}
        assert (await guard.get("/api/v1/schools")).json()["items"] == [
            {
                "id": "school-a",
                "name": "第一实验小学",
                "district": "d1",
                "first_seen": T0.isoformat().replace("+00:00", "Z"),
            }
        ]
        for path in (
            "/api/v1/alarms/school-b-panic",
            "/api/v1/alarms/school-b-panic/forwarding",
            "/api/v1/alarms/school-b-panic/snapshot",
            "/api/v1/schools/school-b/devices/panic-1",
            "/api/v1/schools/school-b/devices/panic-1/history",
            "/api/v1/schools/school-b/devices/cam-1/uptime",
        ):
            assert (await guard.get(path)).status_code == 404, path
        for action, body in (("acknowledge", {"note": "x"}), ("resolve", {"note": "x"})):
            assert (await guard.post(f"/api/v1/alarms/school-b-panic/{action}", json=body)).status_code == 404
        admin = hub.client()
        admin.headers.update(hub.bearer("admin"))
        assert (await admin.get("/api/v1/alarms/school-b-panic")).json()["state"] == "raised"  # untouched
        assert (await guard.get("/api/v1/schools/school-a/devices/cam-1/history")).status_code == 200
        assert (await guard.post("/api/v1/alarms/school-a-panic/acknowledge", json={})).status_code == 200
        # the probes are in the audit log, filed under no school: under school-b they would tell
        # the prober's own admins where that alarm lives; the city-wide admin sees them
        entries = (await admin.get("/api/v1/audit", params={"actor": "guard-a"})).json()["items"]
        probes = [p for p in entries if p["outcome"] == "not_found"]
        assert {(p["action"], p["school_id"]) for p in probes} == {
            ("alarm.acknowledge", None),
            ("alarm.resolve", None),
        }
        assert "school-b" not in str(probes).replace("school-b-panic", "")
        filed = (await admin.get("/api/v1/audit", params={"actor": "guard-a", "school_id": "school-b"})).json()
        assert filed["items"] == []
    finally:
        hub.svc.sessions.kw["bind"].dispose()


async def test_it_staff_handle_technical_alarms_but_not_a_panic(hub: Hub) -> None:
    it = hub.client()
    it.headers.update(hub.bearer("it-a"))
    response = await it.post("/api/v1/alarms/school-a-panic/acknowledge", json={"note": "x"})
    assert response.status_code == 403
    assert "panic" in response.json()["detail"]
    assert (
        await it.post("/api/v1/alarms/school-a-device_offline/acknowledge", json={"note": "on it"})
    ).status_code == 200
    bad = await it.post("/api/v1/alarms/school-a-device_offline/resolve", json={"note": "x", "disposition": "maybe"})
    assert bad.status_code == 422  # a disposition is one of six words, or none
    resolved = await it.post(
        "/api/v1/alarms/school-a-device_offline/resolve", json={"note": "cable replaced", "disposition": "device_fault"}
    )
    assert resolved.status_code == 200
    assert (resolved.json()["resolved_by"], resolved.json()["disposition"]) == ("it-a", "device_fault")
    assert (await it.post("/api/v1/alarms/school-b-device_offline/acknowledge", json={})).status_code == 404
    assert (await it.get("/api/v1/auth/me")).json()["permissions"] == {
        "acknowledge": True,
        "resolve": True,
        "manage_users": False,
        "read_dead_letters": True,  # IT staff fix gateways: they see what a gateway sent wrong
    }


async def test_a_viewer_reads_but_never_acknowledges(hub: Hub) -> None:
    viewer = hub.client()
    viewer.headers.update(hub.bearer("viewer-a"))
    assert ids(await viewer.get("/api/v1/alarms")) == {"school-a-panic", "school-a-device_offline"}
    for alarm in ("school-a-panic", "school-a-device_offline"):
        assert (await viewer.post(f"/api/v1/alarms/{alarm}/acknowledge", json={})).status_code == 403
        assert (await viewer.post(f"/api/v1/alarms/{alarm}/resolve", json={"note": "x"})).status_code == 403
    assert (await viewer.get("/api/v1/users")).status_code == 403
    assert (await viewer.get("/api/v1/audit")).status_code == 403
    assert (await viewer.get("/api/v1/auth/me")).json()["permissions"]["acknowledge"] is False


async def test_a_district_admin_sees_their_district_only(hub: Hub) -> None:
    admin = hub.client()
    admin.headers.update(hub.bearer("d1-admin"))
    assert {a["school_id"] for a in (await admin.get("/api/v1/alarms")).json()["items"]} == {"school-a", "school-c"}
    assert [s["id"] for s in (await admin.get("/api/v1/schools")).json()["items"]] == ["school-a", "school-c"]
    assert (await admin.get("/api/v1/alarms/school-b-panic")).status_code == 404
    assert (await admin.post("/api/v1/alarms/school-c-panic/acknowledge", json={})).status_code == 200
    # accounts: theirs, not the other district's
    assert {u["username"] for u in (await admin.get("/api/v1/users")).json()["items"]} == {
        "d1-admin",
        "guard-a",
        "it-a",
        "viewer-a",
        "head-a",
    }
    assert (await admin.patch("/api/v1/users/guard-b", json={"disabled": True})).status_code == 404
    assert (await admin.post("/api/v1/users/guard-b/tokens", json={"name": "x"})).status_code == 404
    new = {"username": "guard-b2", "role": "guard", "schools": ["school-b"]}
    assert (await admin.post("/api/v1/users", json=new)).status_code == 403
    city = {"username": "city", "role": "district_admin", "district": "*"}
    assert (await admin.post("/api/v1/users", json=city)).status_code == 403


async def test_a_school_admin_creates_guards_of_their_school_but_no_district_admin(hub: Hub) -> None:
    head = hub.client()
    head.headers.update(hub.bearer("head-a"))
    created = await head.post("/api/v1/users", json={"username": "Guard-A2", "role": "guard", "schools": ["school-a"]})
    assert created.status_code == 201, created.text
    password = created.json()["password"]
    assert created.json()["user"]["username"] == "guard-a2"
    assert password and len(password) >= 10
    await login(hub.client(), "guard-a2", password)
    for body in (
        {"username": "boss", "role": "district_admin", "district": "d1"},
        {"username": "guard-x", "role": "guard", "schools": ["school-b"]},
        {"username": "guard-y", "role": "guard", "schools": ["school-a", "school-c"]},
    ):
        assert (await head.post("/api/v1/users", json=body)).status_code == 403, body
    assert {u["username"] for u in (await head.get("/api/v1/users")).json()["items"]} == {
        "guard-a",
        "guard-a2",
        "it-a",
        "viewer-a",
        "head-a",
    }
    assert (await head.patch("/api/v1/users/d1-admin", json={"disabled": True})).status_code == 404
    assert (await head.get("/api/v1/audit")).status_code == 403  # the audit log is the district's
    taken = await head.post("/api/v1/users", json={"username": "guard-a", "role": "guard", "schools": ["school-a"]})
    assert taken.status_code == 409


# -- logins, sessions, tokens ------------------------------------------------------------------------


async def test_login_sets_strict_http_only_session_and_readable_csrf_cookies(hub: Hub) -> None:
    response = await hub.client().post("/api/v1/auth/login", json={"username": "guard-a", "password": TEST_PASSWORD})
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["cg_session"]
    assert "httponly" not in cookies["cg_csrf"]
    for cookie in cookies.values():
        assert "samesite=strict" in cookie
        assert "path=/" in cookie
        assert "secure" not in cookie  # plain http
    over_tls = await hub.client("https://testserver").post(
        "/api/v1/auth/login", json={"username": "guard-a", "password": TEST_PASSWORD}
    )
    assert all("; secure" in c.lower() for c in over_tls.headers.get_list("set-cookie"))
    me = response.json()["user"]
    assert me["username"] == "guard-a"
    assert me["role"] == "guard"
    assert me["schools"] == ["school-a"]


async def test_wrong_password_and_unknown_user_get_the_same_answer(hub: Hub) -> None:
    client = hub.client()
    wrong = await client.post("/api/v1/auth/login", json={"username": "guard-a", "password": "not it at all"})
    unknown = await client.post("/api/v1/auth/login", json={"username": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "cg_session" not in client.cookies


async def test_cross_site_login_is_refused(hub: Hub) -> None:
    client = hub.client()
    body = {"username": "guard-a", "password": TEST_PASSWORD}
    assert (
        await client.post("/api/v1/auth/login", json=body, headers={"Origin": "https://evil.example"})
    ).status_code == 403
    assert (
        await client.post("/api/v1/auth/login", json=body, headers={"Origin": "http://testserver"})
    ).status_code == 200


async def test_login_is_rate_limited_per_username_even_for_the_right_password(hub: Hub) -> None:
    client = hub.client()
    for _ in range(5):
        response = await client.post("/api/v1/auth/login", json={"username": "guard-a", "password": "guess-guess"})
        assert response.status_code == 401
    hub.clock.at += timedelta(seconds=30)
    locked = await client.post("/api/v1/auth/login", json={"username": "GUARD-A", "password": TEST_PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == 300 - 30
    await login(client, "guard-b")  # another account from the same address is not locked (5 < 20)
    hub.clock.at += timedelta(seconds=271)
    await login(client, "guard-a")
    with hub.svc.sessions() as db:
        outcomes = db.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "login", AuditEvent.target == "guard-a")
        ).all()
    assert sorted(outcomes) == sorted(["failed"] * 5 + ["locked", "ok"])


async def test_forty_parallel_guesses_make_at_most_five_password_checks(hub: Hub) -> None:
    # Each check that fails is audited "failed"; a refused attempt "locked" without hashing anything.
    client = hub.client()
    guesses = [
        client.post("/api/v1/auth/login", json={"username": "guard-a", "password": f"guess-{n:04d}"}) for n in range(40)
    ]
    statuses = sorted(r.status_code for r in await asyncio.gather(*guesses))
    assert statuses == [401] * 5 + [429] * 35
    with hub.svc.sessions() as db:
        outcomes = db.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "login", AuditEvent.target == "guard-a")
        ).all()
    assert sorted(outcomes) == ["failed"] * 5 + ["locked"] * 35


async def test_login_is_rate_limited_per_client_address(tmp_path: Path) -> None:
    hub = make_hub(f"sqlite:///{tmp_path / 'hub.db'}", ["guard-a"], login_failures_per_ip=3)
    client = hub.client()
    for name in ("a", "b", "c"):
        assert (await client.post("/api/v1/auth/login", json={"username": name, "password": "x"})).status_code == 401
    response = await client.post("/api/v1/auth/login", json={"username": "guard-a", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Retry-After" in response.headers


async def test_a_new_login_rotates_the_session_and_logout_ends_it(hub: Hub) -> None:
    browser = hub.client()
    await login(browser, "guard-a")
    first = browser.cookies["cg_session"]
    csrf = await login(browser, "guard-a")
    assert browser.cookies["cg_session"] != first
    stale = hub.client()
    stale.cookies.set("cg_session", first)
    assert (await stale.get("/api/v1/auth/me")).status_code == 401  # the replaced session ended
    with hub.svc.sessions() as db:
        stored = db.scalars(select(AuthSession.id_hash)).all()
    assert browser.cookies["cg_session"] not in stored  # kept as a hash only
    assert (await browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
    assert (await browser.get("/api/v1/alarms")).status_code == 401


async def test_sessions_expire_when_idle_and_at_their_maximum_age(hub: Hub) -> None:
    browser = hub.client()
    await login(browser, "guard-a")
    hub.clock.at += timedelta(hours=11)
    assert (await browser.get("/api/v1/auth/me")).status_code == 200  # used within the idle limit (12 h)
    hub.clock.at += timedelta(hours=11)
    assert (await browser.get("/api/v1/auth/me")).status_code == 200
    hub.clock.at += timedelta(hours=2, seconds=1)  # 24 h after login: the absolute limit
    assert (await browser.get("/api/v1/auth/me")).status_code == 401
    await login(browser, "guard-a")
    hub.clock.at += timedelta(hours=12, seconds=1)
    assert (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_a_disabled_account_loses_its_sessions_and_tokens(hub: Hub) -> None:
    browser = hub.client()
    await login(browser, "guard-a")
    admin = hub.client()
    admin.headers.update(hub.bearer("d1-admin"))
    assert (await admin.patch("/api/v1/users/guard-a", json={"disabled": True})).json()["disabled"] is True
    assert (await browser.get("/api/v1/alarms")).status_code == 401
    assert (await hub.client().get("/api/v1/alarms", headers=hub.bearer("guard-a"))).status_code == 401
    response = await hub.client().post("/api/v1/auth/login", json={"username": "guard-a", "password": TEST_PASSWORD})
    assert response.status_code == 401
    await admin.patch("/api/v1/users/guard-a", json={"disabled": False})
    await login(hub.client(), "guard-a")


async def test_an_admin_changes_its_own_password_only_with_the_current_one(hub: Hub) -> None:
    admin = hub.client()
    admin.headers.update(hub.bearer("d1-admin"))
    own = await admin.patch("/api/v1/users/d1-admin", json={"password": "a whole new passphrase"})
    assert own.status_code == 403 and "/api/v1/auth/password" in own.json()["detail"]
    other = await admin.patch("/api/v1/users/guard-a", json={"password": "a whole new passphrase"})
    assert other.status_code == 200  # an admin may still reset someone else's
    await login(hub.client(), "d1-admin")  # its own is unchanged


async def test_api_tokens_are_shown_once_stored_hashed_and_revocable(hub: Hub) -> None:
    admin = hub.client()
    admin.headers.update(hub.bearer("d1-admin"))
    created = (await admin.post("/api/v1/users/viewer-a/tokens", json={"name": "grafana"})).json()
    token = created["token"]
    assert token.startswith("cgt_")
    assert len(token) >= 4 + 43  # 32 random bytes, URL-safe base64
    listed = (await admin.get("/api/v1/users/viewer-a/tokens")).json()["items"]
    assert all("token" not in t for t in listed)
    with hub.svc.sessions() as db:
        assert token not in {t.token_hash for t in db.scalars(select(ApiToken))}
    integration = hub.client()
    integration.headers["Authorization"] = f"Bearer {token}"
    assert ids(await integration.get("/api/v1/alarms")) == {"school-a-panic", "school-a-device_offline"}
    [row] = [t for t in (await admin.get("/api/v1/users/viewer-a/tokens")).json()["items"] if t["name"] == "grafana"]
    assert row["last_used_at"] is not None
    assert (await admin.delete(f"/api/v1/tokens/{row['id']}")).status_code == 204
    assert (await integration.get("/api/v1/alarms")).status_code == 401
    assert (
        await hub.client().get("/api/v1/alarms", headers={"Authorization": "Bearer cgt_made-up"})
    ).status_code == 401


async def test_the_audit_log_records_logins_alarm_actions_and_account_changes(hub: Hub) -> None:
    browser = hub.client()
    csrf = await login(browser, "guard-a")
    await browser.post(
        "/api/v1/alarms/school-a-panic/acknowledge", json={"note": "去门卫室"}, headers={"X-CSRF-Token": csrf}
    )
    await hub.client().post("/api/v1/auth/login", json={"username": "guard-a", "password": "wrong-wrong"})
    await hub.client().post("/api/v1/alarms/school-b-panic/acknowledge", json={}, headers=hub.bearer("guard-b"))
    admin = hub.client()
    admin.headers.update(hub.bearer("d1-admin"))
    await admin.post("/api/v1/users", json={"username": "guard-c", "role": "guard", "schools": ["school-c"]})
    rows = (await admin.get("/api/v1/audit")).json()["items"]
    seen = {(r["actor"], r["action"], r["target"], r["outcome"]) for r in rows}
    assert ("guard-a", "login", "guard-a", "ok") in seen
    assert ("guard-a", "login", "guard-a", "failed") in seen
    assert ("guard-a", "alarm.acknowledge", "school-a-panic", "ok") in seen
    assert ("d1-admin", "user.add", "guard-c", "ok") in seen
    assert all(r["client_ip"] for r in rows)
    assert not any(r["actor"] == "guard-b" for r in rows)  # the other district's
    everything = (await hub.client().get("/api/v1/audit", headers=hub.bearer("admin"))).json()["items"]
    assert any(r["actor"] == "guard-b" and r["action"] == "alarm.acknowledge" for r in everything)
    assert (await hub.client().get("/api/v1/audit", headers=hub.bearer("guard-a"))).status_code == 403


async def test_with_auth_off_every_caller_is_the_anonymous_operator(tmp_path: Path) -> None:
    hub = make_hub(f"sqlite:///{tmp_path / 'hub.db'}", [], auth="off")
    client = hub.client()
    assert (await client.get("/api/v1/alarms")).json()["total"] == 6
    assert (await client.get("/api/v1/auth/me")).json()["auth"] == "off"
    response = await client.post("/api/v1/alarms/school-b-panic/acknowledge", json={"by": "王"})
    assert response.json()["acknowledged_by"] == "王"


@pytest.mark.parametrize("word", ["on", "off"])
async def test_yaml_on_and_off_are_read_as_words(tmp_path: Path, word: str) -> None:
    from hub.settings import load_settings

    config = tmp_path / "hub.yaml"
    config.write_text(f"api:\n  auth: {word}\n", encoding="utf-8")  # YAML 1.1 reads these as booleans
    assert load_settings(config).api.auth == word


async def test_cli_user_add_then_login(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'hub.db'}\n", encoding="utf-8")
    args = ["hub", "user", "add", "--config", str(config), "Wang", "--role", "guard", "--school", "school-a"]
    assert main(args) == 0
    out = capsys.readouterr().out
    password = out.split("password: ", 1)[1].strip()
    assert main(["hub", "token", "create", "--config", str(config), "wang", "--name", "script"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["hub", "user", "add", "--config", str(config), "x", "--role", "guard"]) == 2  # no school
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'hub.db'}"))
    hub = Hub(app, app.state.services, Clock())
    browser = hub.client()
    assert await login(browser, "wang", password)
    assert (await browser.get("/api/v1/auth/me")).json()["schools"] == ["school-a"]
    assert (await hub.client().get("/api/v1/alarms", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert main(["hub", "user", "disable", "--config", str(config), "wang"]) == 0
    assert (await browser.get("/api/v1/auth/me")).status_code == 401
    assert main(["hub", "user", "list", "--config", str(config)]) == 0
    assert "wang\tguard\tschools=school-a\tdisabled" in capsys.readouterr().out
