"""Notifications at the right escalation level: a real SMTP server (aiosmtpd) and a local HTTP server
that checks the WeCom and DingTalk robot formats and DingTalk's signature as those services do.

WeCom, DingTalk and SMS providers cannot be reached from here: the HTTP server stands in for them and
says so; it answers as they document (``{"errcode": 0, "errmsg": "ok"}``), and refuses a DingTalk
request whose signature does not verify (errcode 310000, as DingTalk does).
"""

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select

from campusguard.net import free_port
from contract import Birth, DeviceInfo, Event, MessageType, TopicTree
from hub.api.notifications import alarm_notifications
from hub.app import build_services
from hub.auth.principal import Principal
from hub.notify.channels import dingtalk_sign
from hub.notify.models import NotificationRow
from hub.notify.notifier import in_quiet_hours
from tests.hub.support import eventually, hub_settings, unique_prefix
from tests.hub.test_ingest_batches import Clock, deliver

SECRET = "SEC0123456789abcdef"
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class Robots:
    """Stands in for WeCom's and DingTalk's robot webhooks and an SMS gateway; checks what they check."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"wecom": [], "dingtalk": [], "sms": []}

    async def wecom(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.query.get("key") != "k1" or body.get("msgtype") != "markdown":
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url or msgtype"})
        if not isinstance(body["markdown"].get("content"), str) or len(body["markdown"]["content"].encode()) > 4096:
            return web.json_response({"errcode": 40058, "errmsg": "markdown.content exceed max length"})
        self.received["wecom"].append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def dingtalk(self, request: web.Request) -> web.Response:
        stamp, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        fresh = stamp.isdigit() and abs(int(stamp) - time.time() * 1000) < 3_600_000
        if request.query.get("access_token") != "t1" or not fresh or not hmac.compare_digest(sign, expected):
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        body = await request.json()
        if body.get("msgtype") != "markdown" or not body["markdown"].get("title") or not body["markdown"].get("text"):
            return web.json_response({"errcode": 40035, "errmsg": "missing parameter"})
        self.received["dingtalk"].append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def slow(self, _request: web.Request) -> web.Response:
        await asyncio.sleep(6)  # a robot that hangs (the channel's timeout is longer)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def sms(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return web.Response(status=401)
        self.received["sms"].append(await request.json())
        return web.json_response({"accepted": True})


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Mailbox, Robots, int, int]]:
    mailbox, robots = Mailbox(), Robots()
    smtp_port, http_port = free_port(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", robots.wecom)
    app.router.add_post("/robot/send", robots.dingtalk)
    app.router.add_post("/sms", robots.sms)
    app.router.add_post("/slow", robots.slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    try:
        yield mailbox, robots, smtp_port, http_port
    finally:
        await runner.cleanup()
        controller.stop()


def notifications(smtp_port: int, http_port: int, wrong_secret: bool = False) -> dict[str, Any]:
    base = f"http://127.0.0.1:{http_port}"
    return {
        "channels": {
            "guards-wecom": {"type": "wecom", "url": f"{base}/cgi-bin/webhook/send?key=k1"},
            "principal-dingtalk": {"type": "dingtalk", "url": f"{base}/robot/send?access_token=t1",
                                   "secret": "wrong" if wrong_secret else SECRET},
            "it-mail": {"type": "email", "host": "127.0.0.1", "port": smtp_port, "sender": "hub@school.example",
                        "to": ["it@school.example", "safety@school.example"]},
            "duty-sms": {"type": "sms", "url": f"{base}/sms", "secret": SECRET, "to": ["13800000000"]},
        },
        "rules": [
            {"name": "guards", "level": 0, "kinds": ["panic"], "channels": ["guards-wecom", "it-mail"]},
            {"name": "principal", "level": 1, "kinds": ["panic"], "channels": ["principal-dingtalk", "duty-sms"]},
            {"name": "it-night", "level": 0, "kinds": ["low_battery"], "channels": ["it-mail"],
             "quiet_hours": "08:00-20:00"},
        ],
        "attempts": 2,
        "console_url": "https://console.example",
    }  # fmt: skip


async def hub_with(tmp_path: Path, section: dict[str, Any]) -> tuple[Any, Clock, TopicTree]:
    settings = hub_settings(
        "mqtt://127.0.0.1:1", f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix(), notifications=section,
        alarms={"escalate_after_s": 60}, liveness={"check_every_s": 0.001},
        schools=[{"id": "school-a", "name": "第一实验小学"}],
    )  # fmt: skip
    clock = Clock()
    clock.now = T0
    svc = build_services(settings, now=clock)
    tree = TopicTree(settings.mqtt.topic_prefix)
    infos = [DeviceInfo(id="panic-1", kind="one_click_alarm", profile="p", location="门卫室", interval_s=1)]
    await deliver(svc.ingest, tree, MessageType.BIRTH, Birth(ts=T0, seq=0, devices=infos))
    return svc, clock, tree


def press(seq: int, kind: str = "panic") -> Event:
    severity = "critical" if kind == "panic" else "minor"
    return Event(
        event_id=f"ev-{kind}-{seq:05d}",
        seq=seq,
        device_id="panic-1",
        ts=T0,
        type="alarm.raised",
        alarm_type=kind,
        severity=severity,
        latched=kind == "panic",
    )


def rows(svc: Any) -> list[tuple[str, str, int, str]]:
    with svc.sessions() as session:
        found = session.scalars(select(NotificationRow).order_by(NotificationRow.id))
        return [(r.rule, r.channel, r.level, r.state) for r in found]


async def test_each_level_reaches_its_people_once_in_each_channel_s_format(
    servers: tuple[Mailbox, Robots, int, int], tmp_path: Path
) -> None:
    mailbox, robots, smtp_port, http_port = servers
    svc, clock, tree = await hub_with(tmp_path, notifications(smtp_port, http_port))
    stop = asyncio.Event()
    task = asyncio.create_task(svc.notifier.run(stop))
    try:
        await deliver(svc.ingest, tree, MessageType.EVENT, press(1))  # raised: level 0, the guards
        await eventually(lambda: _now(len(mailbox.messages) == 1 and len(robots.received["wecom"]) == 1), 10)
        content = robots.received["wecom"][0]["markdown"]["content"]
        assert "【一键报警】第一实验小学 门卫室" in content and "新报警" in content and "2026-11-28 10:00:00" in content
        mail = mailbox.messages[0]
        assert str(make_header(decode_header(mail["Subject"]))) == "【一键报警】第一实验小学 门卫室"
        assert mail["To"] == "it@school.example, safety@school.example"
        assert robots.received["dingtalk"] == [] and robots.received["sms"] == []  # level 1 is not due yet

        clock.now = T0 + timedelta(seconds=61)  # unacknowledged for a minute: escalated to level 1
        await svc.ingest._sweep(clock.now)
        await eventually(lambda: _now(len(robots.received["dingtalk"]) == 1 and len(robots.received["sms"]) == 1), 10)
        ding = robots.received["dingtalk"][0]["markdown"]
        assert ding["title"] == "【一键报警】第一实验小学 门卫室" and "已升级 1 次" in ding["text"]
        assert "https://console.example/#/alarm/" in ding["text"]
        assert robots.received["sms"][0]["phones"] == ["13800000000"]
        assert len(mailbox.messages) == 1 and len(robots.received["wecom"]) == 1  # level 0 is not sent again

        await deliver(svc.ingest, tree, MessageType.EVENT, press(2, "low_battery"))  # 10:00: inside quiet hours
        await eventually(lambda: _now(any(r[0] == "it-night" for r in rows(svc))), 10)
        assert sorted(rows(svc)) == sorted([
            ("guards", "guards-wecom", 0, "sent"), ("guards", "it-mail", 0, "sent"),
            ("principal", "principal-dingtalk", 1, "sent"), ("principal", "duty-sms", 1, "sent"),
            ("it-night", "it-mail", 0, "quiet"),
        ])  # fmt: skip
        assert len(mailbox.messages) == 1
        with svc.sessions() as session:
            alarm_id = session.scalar(select(NotificationRow.alarm_id).where(NotificationRow.rule == "principal"))
            out = alarm_notifications(str(alarm_id), session, Principal("it"))
        assert [(n.channel, n.level, n.state, n.attempts) for n in out][-1] == ("duty-sms", 1, "sent", 1)
        exposition = svc.metrics.render()
        assert "campusguard_hub_notifications_sent 4" in exposition  # on /metrics
        assert "campusguard_hub_notifications_failed 0" in exposition
    finally:
        stop.set()
        await task
        svc.sessions.kw["bind"].dispose()


async def test_a_channel_that_refuses_is_retried_then_recorded_failed_and_never_blocks_the_others(
    servers: tuple[Mailbox, Robots, int, int], tmp_path: Path
) -> None:
    mailbox, robots, smtp_port, http_port = servers
    section = notifications(smtp_port, http_port, wrong_secret=True)
    section["rules"] = [{"name": "all", "level": 0, "channels": ["principal-dingtalk", "it-mail"]}]
    svc, _clock, tree = await hub_with(tmp_path, section)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.notifier.run(stop))
    try:
        await deliver(svc.ingest, tree, MessageType.EVENT, press(1))
        await eventually(lambda: _now(len(rows(svc)) == 2 and all(r[3] != "sending" for r in rows(svc))), 15)
        assert sorted(rows(svc)) == [("all", "it-mail", 0, "sent"), ("all", "principal-dingtalk", 0, "failed")]
        with svc.sessions() as session:
            failed = session.scalar(select(NotificationRow).where(NotificationRow.state == "failed"))
            assert failed is not None and failed.attempts == 2 and "errcode 310000 sign not match" in str(failed.detail)
        assert robots.received["dingtalk"] == [] and len(mailbox.messages) == 1
    finally:
        stop.set()
        await task
        svc.sessions.kw["bind"].dispose()


def test_the_dingtalk_signature_is_the_documented_one_and_quiet_hours_wrap_midnight() -> None:
    # DingTalk's documented example: the string to sign is "timestamp\nsecret", HMAC-SHA256, base64
    expected = base64.b64encode(hmac.new(b"s", b"1700000000000\ns", hashlib.sha256).digest()).decode()
    assert dingtalk_sign("s", 1_700_000_000_000) == expected
    at = datetime(2026, 11, 28, 23, 30)  # noqa: DTZ001 - a local wall time
    assert in_quiet_hours("22:00-07:00", at) and in_quiet_hours("22:00-07:00", at.replace(hour=6))
    assert not in_quiet_hours("22:00-07:00", at.replace(hour=7)) and not in_quiet_hours(None, at)
    assert in_quiet_hours("08:00-20:00", at.replace(hour=10)) and not in_quiet_hours("08:00-20:00", at)


def test_a_rule_naming_a_channel_that_does_not_exist_stops_start_up() -> None:
    from hub.notify.settings import NotificationSettings

    with pytest.raises(ValueError, match="rule 'x': no channel 'nowhere'"):
        NotificationSettings.model_validate({"rules": [{"name": "x", "channels": ["nowhere"]}]})
    with pytest.raises(ValueError, match="an email channel needs host, sender and to"):
        NotificationSettings.model_validate({"channels": {"m": {"type": "email", "host": "h"}}})


async def _now(value: bool) -> bool:
    return value


async def test_a_notification_a_dead_hub_left_half_sent_is_sent_when_the_next_starts(
    servers: tuple[Mailbox, Robots, int, int], tmp_path: Path
) -> None:
    mailbox, _robots, smtp_port, http_port = servers
    section = notifications(smtp_port, http_port)
    svc, clock, tree = await hub_with(tmp_path, section)
    await deliver(svc.ingest, tree, MessageType.EVENT, press(1))  # claimed by no running notifier yet
    alarm = svc.notifier._queue.popleft()
    svc.notifier._claim(alarm, svc.settings.notifications.rules[0], "it-mail", "sending")  # then the hub died
    svc.sessions.kw["bind"].dispose()
    clock.now = T0 + timedelta(minutes=5)
    again, _, _ = await hub_with(tmp_path, section)
    again.notifier.now = lambda: T0 + timedelta(minutes=5)
    stop = asyncio.Event()
    task = asyncio.create_task(again.notifier.run(stop))
    try:
        await eventually(lambda: _now(len(mailbox.messages) == 1), 10)
        await eventually(lambda: _now(("guards", "it-mail", 0, "sent") in rows(again)), 10)
    finally:
        stop.set()
        await task
        again.sessions.kw["bind"].dispose()


async def test_a_channel_that_hangs_holds_up_no_other_alarm_s_message(
    servers: tuple[Mailbox, Robots, int, int], tmp_path: Path
) -> None:
    mailbox, _robots, smtp_port, http_port = servers
    section = notifications(smtp_port, http_port)
    section["channels"]["hanging"] = {"type": "wecom", "url": f"http://127.0.0.1:{http_port}/slow", "timeout_s": 30}
    section["rules"] = [
        {"name": "battery", "kinds": ["low_battery"], "channels": ["hanging"]},
        {"name": "panic", "kinds": ["panic"], "channels": ["it-mail"]},
    ]
    svc, _clock, tree = await hub_with(tmp_path, section)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.notifier.run(stop))
    try:
        await deliver(svc.ingest, tree, MessageType.EVENT, press(1, "low_battery"))  # its robot hangs 6 s
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await deliver(svc.ingest, tree, MessageType.EVENT, press(2))
        await eventually(lambda: _now(len(mailbox.messages) == 1), 4)  # the panic's mail did not wait
        assert time.monotonic() - started < 4
        assert ("battery", "hanging", 0, "sending") in rows(svc)
    finally:
        stop.set()
        await task
        svc.sessions.kw["bind"].dispose()
