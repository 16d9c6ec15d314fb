"""The guards' console in Chromium against a running hub with simulators: the issue's must-shows."""

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PASSWORD, Stack

pytestmark = pytest.mark.integration


def sign_in(page: Page, stack: Stack, username: str) -> None:
    """Open the console, sign in through its form and wait for the live stream."""
    page.goto(stack.url)
    expect(page.locator("#login")).to_be_visible()
    # Signed out there is nothing to switch to and nothing to connect: no tabs, no "connecting…" for ever.
    expect(page.locator(".tabs")).to_be_hidden()
    expect(page.locator("#conn")).to_be_hidden()
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-conn", "live")
    expect(page.locator(".tabs")).to_be_visible()


def card(page: Page, device: str, state: str | None = None) -> Any:
    """The board's card of the device's alarm (optionally in a state)."""
    where = f'[data-state="{state}"]' if state else ""
    return page.locator(f".alarm-card{where}", has_text=device)


def open_alarm(stack: Stack, device: str) -> dict[str, Any]:
    """The device's open alarm, from the API (as the district admin)."""
    items = stack.api("GET", "/alarms", params={"device_id": device, "state": "open"}).json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def wait_until(check: Any, timeout_s: float) -> Any:
    """Poll a function until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout_s} s")


def test_guard_sees_a_press_within_2_s_acknowledges_and_resolves_after_the_reset(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "guard-a")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#who")).to_contain_text("保安")
    expect(card(page, "a-panic-1")).to_have_count(0)
    page.evaluate("window.notReloaded = true")

    pressed = time.monotonic()
    stack.act("a-panic-1", "press")
    page.locator(".alarm-card", has_text="a-panic-1").wait_for(timeout=2_000)
    shown_after_s = time.monotonic() - pressed
    assert shown_after_s < 2.0
    alarm = card(page, "a-panic-1", "raised")
    expect(alarm).to_contain_text("一键报警")
    expect(alarm).to_contain_text("紧急")  # severity as text, not only colour
    expect(alarm).to_contain_text("第一实验小学 · 门卫室 · a-panic-1")
    expect(alarm).to_contain_text("待现场复位")
    expect(page.locator("body")).to_have_attribute("data-sound", "ringing")  # the login click unlocked audio
    assert page.evaluate("window.notReloaded") is True

    alarm.locator(".act-ack").click()
    page.fill("#action-note", "保安已赶往门卫室")
    page.click("#action-submit")
    acknowledged = card(page, "a-panic-1", "acknowledged")
    expect(acknowledged).to_contain_text("GUARD-A 已确认")  # the person's name, not the login
    expect(acknowledged).to_contain_text("保安已赶往门卫室")
    expect(page.locator("body")).to_have_attribute("data-sound", "quiet")

    # Latched (GB 50394 5.2.3): the hub refuses to resolve before the device reports its reset.
    acknowledged.locator(".act-resolve").click()
    expect(page.locator("#action-error")).to_contain_text("现场复位")
    page.fill("#action-note", "误按")
    page.click("#action-submit")
    expect(page.locator("#action-error")).to_contain_text("现场复位")
    page.click("#action-cancel")
    assert open_alarm(stack, "a-panic-1")["state"] == "acknowledged"

    stack.act("a-panic-1", "release")
    stack.act("a-panic-1", "reset")
    expect(acknowledged).to_contain_text("已现场复位", timeout=5_000)  # pushed by the stream
    acknowledged.locator(".act-resolve").click()
    expect(page.locator("#action-disposition-row")).to_be_visible()  # what it was, for the false-alarm rate
    page.select_option("#action-disposition", "false_alarm")
    expect(page.locator("#action-disposition option:checked")).to_have_text("误报")
    page.fill("#action-note", "学生误按，已现场复位")
    page.click("#action-submit")
    expect(card(page, "a-panic-1")).to_have_count(0)  # the board shows open alarms
    resolved = stack.api("GET", "/alarms", params={"device_id": "a-panic-1", "state": "resolved"}).json()["items"][0]
    assert (resolved["resolve_note"], resolved["disposition"]) == ("学生误按，已现场复位", "false_alarm")
    assert resolved["acknowledged_by"] == "guard-a" and resolved["resolved_by"] == "guard-a"
    assert resolved["acknowledged_by_name"] == resolved["resolved_by_name"] == "GUARD-A"  # as they were named then
    assert page.evaluate("window.notReloaded") is True


def test_a_guard_of_school_a_can_neither_see_nor_acknowledge_school_b_alarms(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "guard-a")
    stack.act("b-panic-1", "press")
    stack.act("a-fence", "cut", {"zone": 2})
    # School A's alarm arrives live; by then school B's (pressed first) would have too.
    expect(card(page, "a-fence").first).to_be_visible(timeout=5_000)  # a cut raises several fence alarms
    other = wait_until(lambda: stack.api("GET", "/alarms", params={"device_id": "b-panic-1"}).json()["items"], 5)[0]
    assert other["state"] == "raised"
    expect(page.locator('.alarm-card[data-school="school-b"]')).to_have_count(0)
    expect(page.locator(".board")).not_to_contain_text("阳光幼儿园")
    school_options = page.locator("select[name=school] option").all_inner_texts()
    assert "阳光幼儿园" not in school_options and "第一实验小学" in school_options

    page.goto(f"{stack.url}/#/alarm/{other['id']}")
    expect(page.locator(".notfound")).to_contain_text("未找到该报警")
    expect(page.locator(".act-ack")).to_have_count(0)
    # Even a hand-made request from the page (with the session and its CSRF token) is refused.
    status = page.evaluate(
        """async (id) => {
            const csrf = document.cookie.split("; ").find((c) => c.startsWith("cg_csrf=")).slice(8);
            const r = await fetch(`/api/v1/alarms/${id}/acknowledge`, {
                method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: "{}"});
            return r.status;
        }""",
        other["id"],
    )
    assert status in (403, 404)
    assert stack.api("GET", f"/alarms/{other['id']}").json()["state"] == "raised"

    # School B's guard sees it and can act on it: the page hid it for scope, not by accident.
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    sign_in(page, stack, "guard-b")
    expect(card(page, "b-panic-1", "raised")).to_contain_text("阳光幼儿园")
    expect(card(page, "a-fence")).to_have_count(0)
    card(page, "b-panic-1").locator(".act-ack").click()
    page.click("#action-submit")
    expect(card(page, "b-panic-1", "acknowledged")).to_have_count(1)


def test_the_page_survives_a_hub_restart_and_shows_alarms_raised_meanwhile(page: Page, stack: Stack) -> None:
    stream_requests: list[dict[str, str]] = []
    page.on("request", lambda r: stream_requests.append(r.all_headers()) if r.url.endswith("/api/v1/stream") else None)
    sign_in(page, stack, "guard-a")
    page.evaluate("window.notReloaded = true")
    stack.act("a-panic-3", "press")  # seen live: the stream has an id to resume from
    expect(card(page, "a-panic-3")).to_have_count(1, timeout=5_000)
    seen = int(page.locator("body").get_attribute("data-last-event-id") or 0)
    assert seen > 0

    def while_down() -> None:
        expect(page.locator("body")).to_have_attribute("data-conn", "reconnecting", timeout=5_000)
        stack.act("a-panic-2", "press")  # the agent spools it until the hub is back
        time.sleep(0.5)

    stack.restart_hub(while_down)
    expect(card(page, "a-panic-2", "raised")).to_have_count(1, timeout=10_000)
    expect(page.locator("body")).to_have_attribute("data-conn", "live")
    expect(page.locator("#conn")).to_have_text("实时")
    assert page.evaluate("window.notReloaded") is True
    assert any(int(h.get("last-event-id", 0)) >= seen for h in stream_requests[1:]), stream_requests
    # The board still works against the new hub process: acknowledge the alarm raised meanwhile.
    card(page, "a-panic-2").locator(".act-ack").click()
    page.click("#action-submit")
    expect(card(page, "a-panic-2", "acknowledged")).to_have_count(1)


def test_data_is_shown_as_text_never_as_markup(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "admin")
    page.goto(f"{stack.url}/#/devices")
    row = page.locator('tr[data-device="a-panic-3"]')
    expect(row).to_contain_text("<img src=x onerror=alert(1)>值班室")
    expect(page.locator("main img")).to_have_count(0)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)], ids=["control-room", "phone"])
def test_board_and_it_views_fit_the_screen_in_both_languages(page: Page, stack: Stack, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, stack, "admin")
    expect(page.locator(".alarm-card").first).to_be_visible(timeout=5_000)
    expect(page.locator(".alarm-card .act-detail").first).to_be_in_viewport()

    def no_sideways_scroll() -> None:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    no_sideways_scroll()
    # The header takes at most two rows (the tabs scroll sideways on a phone), in either language.
    row = page.locator(".tabs a").first.bounding_box()
    assert row and page.locator(".top").bounding_box()["height"] <= 2.6 * row["height"] + 24  # type: ignore[index]
    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "en-GB")
    header = page.locator(".top").bounding_box()
    assert header and header["height"] <= 2.6 * row["height"] + 24
    expect(page.locator(".tabs")).to_contain_text("Alarms")
    expect(page.locator("#conn")).to_have_text("Live")
    no_sideways_scroll()

    page.click('.tabs a[data-view="devices"]')
    expect(page.locator('tr[data-device="a-fence"]')).to_contain_text("Online")
    expect(page.locator('section.school[data-school="school-a"]')).to_contain_text("Online rate")
    no_sideways_scroll()
    page.click('tr[data-device="a-fence"] a')
    expect(page.locator(".device-detail")).to_contain_text("Device state changes")
    expect(page.locator(".device-detail svg.chart.columns")).to_have_count(1)
    expect(page.locator(".device-detail .intact-total")).to_contain_text("%")  # 完好率 beside 在线率
    expect(page.locator(".device-detail .metrics")).to_contain_text("polls")  # its last snapshot's metrics
    # the hub keeps its own time series: the fence's numbers over the last 24 h, each value as it came
    expect(page.locator(".metric-charts figure svg.chart.line polyline.series")).not_to_have_count(0)
    expect(page.locator(".metric-charts figcaption").first).to_contain_text("each value")
    expect(page.locator(".metric-charts h2")).to_have_text("Metrics (24 h)")
    no_sideways_scroll()

    page.click('.tabs a[data-view="uptime"]')
    expect(page.locator("main h1")).to_have_text("Camera online and intact rates (time-weighted)")
    page.click("#lang")
    expect(page.locator(".tabs")).to_contain_text("报警")


def test_an_admin_sees_dead_letters_as_text(page: Page, stack: Stack) -> None:
    import subprocess
    from urllib.parse import urlsplit

    broker = urlsplit(stack.broker_url)
    payload = '{"schema_version":"1.2","seq":NaN,"note":"<img src=x onerror=alert(2)>"}'
    topic = f"{stack.prefix}/school-a/gw-broken/event"
    subprocess.run(
        ["mosquitto_pub", "-h", str(broker.hostname), "-p", str(broker.port), "-q", "1", "-t", topic, "-m", payload],
        check=True,
    )
    sign_in(page, stack, "admin")
    tab = page.locator('.tabs a[data-view="dead-letters"]')
    expect(tab).to_be_visible()
    expect(tab).to_have_text("死信")
    tab.click()
    row = page.locator("table.dead-letters tbody tr", has_text="school-a/gw-broken")
    expect(row).to_contain_text("解析")  # the decode stage
    expect(row.locator("code")).to_contain_text("<img src=x onerror=alert(2)>")  # shown as text, never as HTML
    expect(page.locator("table.dead-letters img")).to_have_count(0)


def test_a_guard_has_no_dead_letter_tab(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "guard-a")
    expect(page.locator('.tabs a[data-view="dead-letters"]')).to_be_hidden()


def test_after_a_reload_starting_duty_enables_sound_and_a_mute_is_timed_and_audited(page: Page, stack: Stack) -> None:
    body, button = page.locator("body"), page.locator("#sound")
    sign_in(page, stack, "guard-b")
    # A new press after a reset at the box: a new raised alarm, whatever earlier tests did with the old one.
    stack.act("b-panic-1", "release")
    stack.act("b-panic-1", "reset")
    opened = {"device_id": "b-panic-1", "state": "open"}
    wait_until(lambda: all(a["reset_at"] for a in stack.api("GET", "/alarms", params=opened).json()["items"]), 10)
    stack.act("b-panic-1", "press")
    expect(card(page, "b-panic-1", "raised")).to_have_count(1, timeout=5_000)
    expect(body).to_have_attribute("data-sound", "ringing")  # the login click allowed sound

    page.reload()  # the session survives, the browser's permission to play sound does not
    expect(body).to_have_attribute("data-conn", "live")
    expect(body).to_have_attribute("data-sound", "blocked")  # said, not pretended
    expect(button).to_have_attribute("data-state", "locked")
    duty = page.locator("#duty")
    expect(duty).to_be_visible()  # 开始值班: over the page, saying what waits
    expect(duty.locator("#duty-ringing")).to_contain_text("条紧急报警未确认")

    page.click("#duty-start")  # the obvious click enables the chime: it must not mute the alarm
    expect(body).to_have_attribute("data-sound", "ringing")
    expect(button).to_have_attribute("data-state", "on")
    expect(duty).to_be_hidden()

    button.click()  # now a click mutes, for the time the hub sets (3 s in these tests), never for good
    expect(button).to_have_attribute("data-state", "muted")
    expect(button).to_contain_text("✕ 已静音 0:0")
    expect(body).to_have_attribute("data-sound", "quiet")
    audit = stack.api("GET", "/audit", params={"actor": "guard-b", "action": "alarm.mute"}).json()["items"]
    assert audit and audit[0]["detail"]["until"], "a silenced alarm is someone's decision, with a time"
    expect(body).to_have_attribute("data-sound", "ringing", timeout=6_000)  # the mute ran out: it rings again
    expect(button).to_have_attribute("data-state", "on")
    button.click()  # mute, then a second click brings it back at once
    expect(button).to_have_attribute("data-state", "muted")
    button.click()
    expect(body).to_have_attribute("data-sound", "ringing")
    page.keyboard.press("m")  # the key does the same, both ways
    expect(button).to_have_attribute("data-state", "muted")
    page.keyboard.press("m")
    expect(body).to_have_attribute("data-sound", "ringing")


def test_the_api_docs_work_without_the_internet(page: Page, stack: Stack) -> None:
    # Chromium here has no route out: the page must load Swagger UI from the hub itself.
    external: list[str] = []
    local = (stack.url, f"blob:{stack.url}")  # ReDoc starts a worker from a blob of its own page
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(local) else None)
    page.goto(f"{stack.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CampusGuard hub")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/alarms").first).to_be_visible()
    page.goto(f"{stack.url}/redoc")  # ReDoc too, from the hub's own files
    expect(page.locator("h1", has_text="CampusGuard hub")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("/api/v1/patrols/plans").first).to_be_attached()
    assert external == []


def test_an_admin_makes_this_month_s_report_from_the_console(page: Page, stack: Stack) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    sign_in(page, stack, "admin")
    page.click('.tabs a[data-view="reports"]')
    expect(page.locator(".report-form h2")).to_have_text("月度运行报告")
    scopes = page.locator(".report-form select[name=scope] option")
    expect(scopes.first).to_have_text("全市")  # a city account sees every school
    expect(scopes).to_contain_text(["全市", "区县 haidian"])
    month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    page.select_option(".report-form select[name=scope]", "district:haidian")
    page.fill(".report-form input[name=month]", month)
    page.select_option(".report-form select[name=format]", "csv")
    with page.expect_download() as got:
        page.click("#report-link")
    download = got.value
    assert download.suggested_filename == f"report-district-haidian-{month}.csv"
    rows = download.path().read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("排名,学校,区县,设备数,在线率 (%)") and len(rows) == 3  # a header and both schools


def test_the_district_table_and_a_school_s_card_say_what_to_fix_first(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "admin")
    page.click('.tabs a[data-view="compliance"]')
    table = page.locator(".compliance-table")
    expect(table.locator("h1")).to_contain_text("各校在线率、完好率、联网率与达标")
    expect(table.locator("table.schools tbody tr")).to_have_count(2)
    row_a = table.locator('tr[data-school="school-a"]')
    expect(row_a).to_contain_text("第一实验小学")
    expect(row_a.locator(".verdict")).to_have_text("不达标")  # the 1.6 m wall without a fence
    expect(table.locator('tr[data-school="school-b"] .verdict')).to_have_text("待核实")  # perimeter never surveyed
    expect(table.locator(".kpi-tiles")).to_contain_text("达标率")
    target = page.locator('.targets .target[data-rule="YC2021-KG-NET-100"]')
    expect(target.locator("h3")).to_contain_text("幼儿园一键式紧急报警、视频监控系统联网达标率 100%")
    expect(target.locator(".target-state")).to_have_text("逾期未达成")  # 2021-12-31 has passed
    cells = target.locator('tr[data-district="haidian"] td')
    expect(cells).to_have_text(["haidian", "1", "0", "0", "1", "0.0%"])  # bound, met, missed, to check, rate
    row_a.locator("a").click()
    card = page.locator(".compliance-card")
    expect(card.locator("h2").first).to_have_text("先整改（1 项，逾期在前，按严重程度）")
    first = card.locator(".findings .finding").first
    expect(first).to_contain_text("校园低于 2 米的围墙要架设电子围栏")
    expect(first).to_contain_text("segment:west")
    expect(first.locator("blockquote")).to_contain_text("校园低于2米的围墙要架设电子围栏")  # the seed's own words
    expect(first.locator("cite")).to_contain_text("二、2")
    expect(first.locator(".finding-when")).to_contain_text("自 ")  # since when, from the findings ledger


def test_a_fence_cut_is_one_incident_and_the_board_keeps_priority_order(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "admin")
    stack.act("a-fence", "cut", {"zone": 3})
    fence = card(page, "a-fence")
    expect(fence).to_have_count(1, timeout=5_000)  # wire cut, voltage low and pulse loss: one card
    wait_until(lambda: int(fence.get_attribute("data-signals") or 0) >= 3, 5)
    expect(fence.locator(".signals li")).not_to_have_count(0)
    expect(fence.locator(".more")).to_contain_text("另")
    expect(fence).to_have_attribute("data-urgent", "no")  # a fault to fix, not a person to send now
    open_cards = page.locator('.alarm-card:not([data-state="resolved"])')
    ranks = [int(p) for p in open_cards.evaluate_all("cards => cards.map(c => c.dataset.priority)")]
    assert ranks == sorted(ranks), ranks  # panic, break-in, fence, technical
    pulsing = page.locator('.alarm-card[data-urgent="yes"]').evaluate_all(
        "cards => cards.map(c => [c.dataset.state, c.dataset.priority, c.dataset.escalated])"
    )
    # only what a person must act on now: unacknowledged, and a panic or break-in or escalated
    assert all(state == "raised" and (int(p) <= 1 or esc == "yes") for state, p, esc in pulsing), pulsing
    stack.act("a-fence", "restore", {"zone": 3})


def test_a_panic_press_shows_the_linked_camera_s_picture_on_its_card_within_3_s(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "guard-a")
    stack.act("a-panic-cam", "press")
    panic = card(page, "a-panic-cam", "raised")
    expect(panic).to_have_count(1, timeout=3_000)
    picture = panic.locator(".pictures img")
    expect(picture).to_have_count(1, timeout=3_000)  # within 3 s of the card: the gate, as the camera saw it
    expect(picture).to_have_attribute("data-camera", "a-cam-gate")
    wait_until(lambda: picture.evaluate("img => img.complete && img.naturalWidth > 0"), 5)  # a real JPEG
    alarm_id = panic.get_attribute("data-id")
    page.goto(f"{stack.url}/#/alarm/{alarm_id}")
    expect(page.locator(".alarm-pictures .pictures.large img")).to_have_count(1)
    expect(page.locator(".alarm-pictures .nvr-time")).to_contain_text("在录像机中查看报警时刻")
    plan = page.locator(".plan")
    expect(plan.locator("h2")).to_contain_text("处置预案")
    expect(plan.locator(".plan-steps li").first).to_contain_text("立即查看联动摄像机画面")
    expect(plan.locator('.plan-contacts a[href="tel:110"]')).to_contain_text("110")
    # The live view: a frame about once a second, relayed by the hub.
    page.click('.live-view[data-camera="a-cam-gate"] .live-toggle')
    frame = page.locator(".live-view .live-frame")
    expect(page.locator(".live-view .live-status")).to_have_text("实时（约每秒一帧）", timeout=5_000)
    first_src = frame.get_attribute("src")
    wait_until(lambda: frame.get_attribute("src") != first_src, 5)  # the next frame was asked for
    wait_until(lambda: frame.evaluate("img => img.complete && img.naturalWidth > 0"), 5)
    # Another school's guard cannot fetch it (signed in as the console signs in: a session cookie).
    src = page.locator(".alarm-pictures .pictures img").get_attribute("src")
    assert src
    with httpx.Client(base_url=stack.url, timeout=5) as guard_b:
        assert guard_b.post("/api/v1/auth/login", json={"username": "guard-b", "password": PASSWORD}).status_code == 200
        assert guard_b.get(src).status_code == 404
        assert guard_b.get(f"/api/v1/alarms/{alarm_id}/pictures").status_code == 404
    stack.act("a-panic-cam", "release")
    stack.act("a-panic-cam", "reset")


def test_a_card_says_whether_the_alarm_reached_the_police_or_cannot(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "admin")
    stack.act("a-panic-fwd", "press")
    delivered = card(page, "a-panic-fwd", "raised").locator('.fwd[data-route="110"]')
    expect(delivered).to_have_attribute("data-state", "delivered", timeout=5_000)
    expect(delivered).to_contain_text("已送达 110")
    assert re.search(r"\d{2}:\d{2}:\d{2}", delivered.inner_text()), "the time it was delivered, to the second"
    assert stack.received, "the receiver really got it"
    stack.act("b-panic-fwd", "press")  # school B has no account at the receiving centre
    unroutable = card(page, "b-panic-fwd", "raised").locator('.fwd[data-route="110"]')
    expect(unroutable).to_have_attribute("data-state", "unroutable", timeout=5_000)
    expect(unroutable).to_contain_text("未联网")
    for device in ("a-panic-fwd", "b-panic-fwd"):
        stack.act(device, "release")
        stack.act(device, "reset")


def test_the_compact_list_acknowledges_technical_alarms_in_bulk_but_never_a_security_one(
    page: Page, stack: Stack
) -> None:
    sign_in(page, stack, "admin")
    stack.act("a-box-list", "go_silent")  # the box stops answering: device_offline, a technical alarm
    expect(card(page, "a-box-list", "raised")).to_have_count(1, timeout=10_000)
    page.click(".board-mode")  # ☰ 紧凑列表, remembered by this browser
    row = page.locator('.alarm-list tr.alarm-row[data-kind="device_offline"]', has_text="a-box-list")
    expect(row).to_have_count(1)
    panic_rows = page.locator('.alarm-list tr.alarm-row[data-kind="panic"]')
    if panic_rows.count():
        expect(panic_rows.locator("input.pick")).to_have_count(0)  # security alarms: one by one only
    row.locator("input.pick").check()
    bulk = page.locator(".act-bulk")
    expect(bulk).to_contain_text("（1）")
    bulk.click()
    expect(page.locator('.alarm-list tr.alarm-row[data-state="acknowledged"]', has_text="a-box-list")).to_have_count(
        1, timeout=5_000
    )
    page.reload()
    page.click("#duty-start")  # a reload asks to start duty again (sound)
    expect(page.locator(".alarm-list")).to_be_visible()  # the choice of view outlives a reload
    page.click(".board-mode")
    expect(page.locator(".alarm-card").first).to_be_visible()
    stack.act("a-box-list", "recover")


def test_a_guard_walks_a_video_patrol_and_it_is_recorded_but_another_school_sees_none_of_it(
    page: Page, stack: Stack
) -> None:
    # A district admin makes the plan in the console: the gate camera, all day, a round an hour.
    sign_in(page, stack, "admin")
    page.goto(f"{stack.url}/#/patrol")
    page.click(".plan-form summary")
    form = page.locator(".plan-form form")
    form.locator("[name=name]").fill("大门口巡查")
    form.locator("[name=scope]").select_option("school:school-a")
    form.locator('input[name=camera][value*="a-cam-gate"]').check()
    form.locator("[name=start]").fill("00:00")
    form.locator("[name=end]").fill("00:00")
    form.locator("[name=every]").fill("60")
    form.locator("button[type=submit]").click()
    plan = page.locator("tr[data-plan]", has_text="大门口巡查")
    expect(plan).to_have_count(1)
    page.click("#logout")

    sign_in(page, stack, "guard-a")
    page.goto(f"{stack.url}/#/patrol")
    plan = page.locator("tr[data-plan]", has_text="大门口巡查")
    expect(plan).to_have_attribute("data-state", re.compile("due|overdue"))
    plan.locator("button.primary").click()
    run = page.locator(".patrol-run")
    expect(run).to_have_attribute("data-camera", "a-cam-gate")
    frame = run.locator(".live-frame")
    wait_until(lambda: frame.evaluate("img => img.complete && img.naturalWidth > 0"), 5)  # the camera, live
    run.locator("button", has_text="正常").click()
    expect(run.locator(".patrol-steps li[data-result=normal]")).to_have_count(1)
    run.locator("button", has_text="完成巡查").click()
    expect(page.locator("tr[data-plan]", has_text="大门口巡查")).to_have_attribute("data-state", "done")
    record = page.locator(".patrol-records tr[data-run]").first
    expect(record).to_have_attribute("data-state", "completed")
    expect(record).to_contain_text("大门口巡查")
    expect(record).to_contain_text("1/1")
    page.click("#logout")

    # School B's guard sees their own plan only: not school A's, nor its records, nor its camera.
    sign_in(page, stack, "guard-b")
    page.goto(f"{stack.url}/#/patrol")
    expect(page.locator("tr[data-plan]")).to_have_count(1)
    expect(page.locator("tr[data-plan]")).to_contain_text("幼儿园门口巡查")
    expect(page.locator(".patrol-records")).to_contain_text("还没有巡查记录")
    with httpx.Client(base_url=stack.url, timeout=5) as guard_b:
        assert guard_b.post("/api/v1/auth/login", json={"username": "guard-b", "password": PASSWORD}).status_code == 200
        assert guard_b.get("/api/v1/patrols/runs").json()["items"] == []
        assert guard_b.get("/api/v1/schools/school-a/devices/a-cam-gate/live.jpg").status_code == 404


def test_an_admin_manages_accounts_and_tokens_and_it_staff_read_gateways_and_devices(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "admin")
    page.click("#users-link")
    users = page.locator(".card.users")
    expect(users.locator('tr[data-user="guard-a"]')).to_contain_text("GUARD-A")
    page.click(".users .plan-form summary")
    form = users.locator(".plan-form form")
    form.locator("[name=username]").fill("night-guard")
    form.locator("[name=display]").fill("夜班 王")
    form.locator("[name=role]").select_option("guard")
    form.locator("[name=scope]").fill("school-a")
    form.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("night-guard 的初始密码")  # shown this once
    row = users.locator('tr[data-user="night-guard"]')
    expect(row).to_contain_text("夜班 王")
    # A token, shown once, then revoked: it stops working at once.
    row.locator("button", has_text="令牌").click()
    tokens = users.locator('tr[data-user="night-guard"] + tr .tokens')
    tokens.locator("input[name=name]").fill("区平台对接")
    tokens.locator("button[type=submit]").click()
    secret = tokens.locator(".secret code")
    expect(secret).to_have_count(1)
    token = secret.inner_text()
    with httpx.Client(base_url=stack.url, timeout=5, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        tokens.locator("button", has_text="吊销").click()
        expect(tokens.locator('tr[data-revoked="yes"]')).to_have_count(1)
        assert client.get("/api/v1/auth/me").status_code == 401
    row.locator("button", has_text="停用").click()
    expect(users.locator('tr[data-user="night-guard"]')).to_have_attribute("data-disabled", "yes")
    assert stack.api("GET", "/audit", params={"action": "user.disable"}).json()["items"]

    # The gateways page: each school's gateway, its agent's version, its heartbeat and spool.
    page.goto(f"{stack.url}/#/devices")
    page.click('a.button[href="#/gateways"]')
    gateways = page.locator(".gateway-table tbody tr")
    expect(gateways).to_have_count(2)
    expect(gateways.first).to_contain_text("0.1.0")
    # A device that answers but is in alarm says so in the device list.
    stack.act("a-panic-2", "press")
    page.goto(f"{stack.url}/#/devices")
    device = page.locator('table.devices tr[data-device="a-panic-2"]')
    expect(device).to_have_attribute("data-alarms", "yes")
    expect(device.locator("a.alarm-count")).to_have_text("1")
    expect(device).to_contain_text("tcp://127.0.0.1:")  # where it is polled
    stack.act("a-panic-2", "release")
    stack.act("a-panic-2", "reset")
