"""No gateway speaks for another: the generated broker ACL on a real mosquitto over TLS, and the hub's own checks.

School A's gateway holds valid credentials (the attacker of the trust-boundary issue). With the
password file and ACL that `campusguard broker config` writes from the registry, it cannot publish
as school B, read B's topics, ack B's events or command B's agent; the hub, over mqtts:// with its
own account, receives everything legitimate. Behind an open broker (a misconfiguration), the hub
still refuses unregistered gateways and events for devices absent from a gateway's birth.
"""

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from sqlalchemy import select

from contract import Birth, DeviceInfo, Event, MessageType, TopicTree, encode
from contract.messages import new_event_id, utc_now
from hub.db.models import Alarm, DeadLetterRow
from hub.gateways.cli import run as gateway_command
from hub.gateways.cli import write_broker_config
from tests.hub.support import RunningHub, eventually, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto, TlsFiles, find_binary, free_port, wait_for_port

pytestmark = pytest.mark.integration
HUB_PASSWORD = "hub-broker-secret"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class Pki:
    """The broker's TLS files and each gateway's issued password."""

    def __init__(self, tls: TlsFiles) -> None:
        self.tls = tls
        self.passwords: dict[str, str] = {}


def _register(config: Path, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`campusguard gateway add NAME`; the password it printed."""
    assert gateway_command(argparse.Namespace(config=config, gateway_command="add", name=name)) == 0
    out = capsys.readouterr().out
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))


@pytest.fixture
def secured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Mosquitto, Pki, Path, str]]:
    """A TLS mosquitto with the registry's password file and ACL; the hub config that made them."""
    prefix = unique_prefix()
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mqtt": {
                    "url": "mqtts://127.0.0.1:1",
                    "topic_prefix": prefix,
                    "username": "hub",
                    "password": HUB_PASSWORD,
                },
                "database": {"url": f"sqlite:///{tmp_path / 'hub.db'}"},
            }
        )
    )
    pki = Pki(TlsFiles(tmp_path / "pki"))
    for name in ("school-a/gw-01", "school-b/gw-01"):
        pki.passwords[name] = _register(config, name, capsys)
    assert write_broker_config(argparse.Namespace(config=config, out=tmp_path / "broker")) == 0
    capsys.readouterr()
    acl = (tmp_path / "broker" / "acl").read_text()
    assert f"topic write {prefix}/school-a/gw-01/event" in acl and f"topic read {prefix}/school-b/gw-01/ack" in acl
    broker = Mosquitto(
        tmp_path / "mosquitto",
        tls=pki.tls,
        password_file=tmp_path / "broker" / "passwd",
        acl_file=tmp_path / "broker" / "acl",
    ).start()
    yield broker, pki, tmp_path / "hub.db", prefix
    broker.stop()


def _client(broker: Mosquitto, pki: Pki, username: str, password: str) -> aiomqtt.Client:
    tls = aiomqtt.TLSParameters(ca_certs=str(pki.tls.ca), cert_reqs=ssl.CERT_REQUIRED)
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=username,
        password=password,
        tls_params=tls,
        identifier=username.replace("/", "-"),
    )


def _birth() -> bytes:
    return encode(
        Birth(
            ts=utc_now(), seq=0, devices=[DeviceInfo(id="panic-1", kind="one_click_alarm", profile="p", interval_s=1)]
        )
    )


def _panic(seq: int, device: str = "panic-1") -> Event:
    return Event(
        event_id=new_event_id(), seq=seq, device_id=device, ts=utc_now(), type="alarm.raised",
        alarm_type="panic", severity="critical", latched=True,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def hub_over_tls(broker: Mosquitto, pki: Pki, db: Path, prefix: str) -> AsyncIterator[RunningHub]:
    mqtt = {
        "url": f"mqtts://127.0.0.1:{broker.port}",
        "ca_file": str(pki.tls.ca),
        "username": "hub",
        "password": HUB_PASSWORD,
    }
    settings = hub_settings(broker.url, f"sqlite:///{db}", prefix, mqtt=mqtt, gateways={"enrolment": "registered"})
    async with running_hub(settings) as hub:
        yield hub


async def _collect(client: aiomqtt.Client, into: list[tuple[str, bytes]]) -> None:
    async for message in client.messages:
        into.append((message.topic.value, bytes(message.payload)))  # type: ignore[arg-type]


async def test_a_gateway_cannot_speak_for_another_school_and_the_hub_gets_what_is_legitimate(
    secured: tuple[Mosquitto, Pki, Path, str],
) -> None:
    broker, pki, db, prefix = secured
    tree = TopicTree(prefix)
    a_topic = lambda t: tree.topic("school-a", "gw-01", t)  # noqa: E731
    b_topic = lambda t: tree.topic("school-b", "gw-01", t)  # noqa: E731
    async with (
        hub_over_tls(broker, pki, db, prefix) as hub,
        _client(broker, pki, "school-a/gw-01", pki.passwords["school-a/gw-01"]) as attacker,
        _client(broker, pki, "school-b/gw-01", pki.passwords["school-b/gw-01"]) as victim,
    ):
        seen_by_victim: list[tuple[str, bytes]] = []
        seen_by_attacker: list[tuple[str, bytes]] = []
        await victim.subscribe(b_topic(MessageType.ACK), qos=1)
        await victim.subscribe(b_topic(MessageType.COMMAND), qos=1)
        await attacker.subscribe(b_topic(MessageType.EVENT), qos=1)  # read B's alarms
        await attacker.subscribe(f"{prefix}/#", qos=1)  # or everything
        tasks = [
            asyncio.create_task(_collect(victim, seen_by_victim)),
            asyncio.create_task(_collect(attacker, seen_by_attacker)),
        ]
        try:
            for client, topic in ((attacker, a_topic), (victim, b_topic)):
                await client.publish(topic(MessageType.BIRTH), _birth(), qos=1, retain=True)
            # B's real alarm, then A's forgeries: a panic as B, an ack of B's alarm, a command to B.
            real = _panic(1)
            await victim.publish(b_topic(MessageType.EVENT), encode(real), qos=1)
            forged = _panic(2)
            await attacker.publish(b_topic(MessageType.EVENT), encode(forged), qos=1)
            forged_ack = json.dumps(
                {"schema_version": "1.2", "ts": utc_now().isoformat(), "event_ids": [real.event_id]}
            )
            await attacker.publish(b_topic(MessageType.ACK), forged_ack.encode(), qos=1)
            forged_command = {
                "schema_version": "1.2",
                "command_id": "x",
                "ts": utc_now().isoformat(),
                "name": "rebirth",
            }
            await attacker.publish(b_topic(MessageType.COMMAND), json.dumps(forged_command).encode(), qos=1)
            own = _panic(1)
            await attacker.publish(a_topic(MessageType.EVENT), encode(own), qos=1)  # its own: legitimate

            async def both_stored() -> list[Any] | None:
                with hub.services.sessions() as session:
                    schools = list(
                        session.scalars(select(Alarm.school_id).where(Alarm.kind == "panic").order_by(Alarm.school_id))
                    )
                return schools if len(schools) >= 2 else None

            assert await eventually(both_stored, 10) == ["school-a", "school-b"]
            await asyncio.sleep(1.0)  # anything the ACL let through would have arrived
            with hub.services.sessions() as session:
                stored = set(session.scalars(select(Alarm.raised_event_id)))
            assert stored == {real.event_id, own.event_id}, "a forged alarm reached the hub"
            acks = [json.loads(p) for t, p in seen_by_victim if t.endswith("/ack")]
            assert acks and all(a["event_ids"] == [real.event_id] for a in acks)  # only the hub's real ack
            commands = [json.loads(p) for t, p in seen_by_victim if t.endswith("/command")]
            assert all(c["command_id"] != "x" for c in commands), "A commanded B's agent"  # the hub may ask a rebirth
            leaked = [t for t, _ in seen_by_attacker if "/school-b/" in t]
            assert leaked == [], f"A read B's topics: {leaked}"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_behind_an_open_broker_the_hub_still_refuses_strangers_and_unknown_devices(
    mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix, db = unique_prefix(), tmp_path / "hub.db"
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"mqtt": {"topic_prefix": prefix}, "database": {"url": f"sqlite:///{db}"}}))
    _register(config, "school-a/gw-01", capsys)
    settings = hub_settings(mosquitto.url, f"sqlite:///{db}", prefix, gateways={"enrolment": "registered"})
    tree = TopicTree(prefix)
    async with running_hub(settings) as hub, aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
        await client.publish(tree.topic("school-a", "gw-01", MessageType.BIRTH), _birth(), qos=1)
        # Events travel on a session of their own (hub.mqtt), so only a birth the hub has taken in
        # can refuse them; before it, the broker's ACL vouches for the gateway (hub.domain.state.HubState.check_member).
        state = hub.services.ingest.state
        await eventually(lambda: asyncio.sleep(0, state.knows("school-a", "gw-01")), 10)
        await client.publish(tree.topic("school-x", "gw-01", MessageType.EVENT), encode(_panic(1)), qos=1)  # stranger
        await client.publish(tree.topic("school-a", "gw-01", MessageType.EVENT), encode(_panic(2, "ghost")), qos=1)
        await client.publish(tree.topic("school-a", "gw-01", MessageType.EVENT), encode(_panic(3)), qos=1)

        async def letters() -> list[tuple[str, str]] | None:
            with hub.services.sessions() as session:
                rows = [(r.source, r.reason) for r in session.scalars(select(DeadLetterRow))]
            return sorted(rows) if len(rows) >= 2 else None

        assert await eventually(letters, 10) == [
            ("school-a/gw-01", "UnknownDevice"),
            ("school-x/gw-01", "unregistered"),
        ]

        async def stored() -> list[str]:
            with hub.services.sessions() as session:
                return list(session.scalars(select(Alarm.device_id)))

        assert await eventually(stored, 10) == ["panic-1"]  # the real device's alarm, and only it


async def test_the_shipped_broker_configuration_and_test_pki_carry_the_hub_and_a_gateway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # deploy/mosquitto.conf as shipped, with only its paths and port pointed at this test's files.
    pki, port = tmp_path / "certs", free_port()
    subprocess.run(["bash", str(DEPLOY / "make-test-pki.sh"), str(pki), "127.0.0.1", "hub"], check=True)
    prefix, db = unique_prefix(), tmp_path / "hub.db"
    config = tmp_path / "hub.yaml"
    mqtt = {"url": f"mqtts://127.0.0.1:{port}", "topic_prefix": prefix, "username": "hub", "password": HUB_PASSWORD}
    config.write_text(yaml.safe_dump({"mqtt": mqtt, "database": {"url": f"sqlite:///{db}"}}))
    password = _register(config, "school-a/gw-01", capsys)
    assert write_broker_config(argparse.Namespace(config=config, out=tmp_path / "broker")) == 0
    shipped = (DEPLOY / "mosquitto.conf").read_text()
    for old, new in (
        ("listener 8883 0.0.0.0", f"listener {port} 127.0.0.1"),
        ("/etc/mosquitto/certs/", f"{pki}/"),
        ("/etc/mosquitto/passwd", str(tmp_path / "broker" / "passwd")),
        ("/etc/mosquitto/acl", str(tmp_path / "broker" / "acl")),
        ("/var/lib/mosquitto/", f"{tmp_path}/"),
    ):
        assert old in shipped, old
        shipped = shipped.replace(old, new)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(shipped + ("user root\n" if os.geteuid() == 0 else ""))
    with (tmp_path / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen([find_binary("mosquitto"), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        settings = hub_settings(
            "mqtt://127.0.0.1:1", f"sqlite:///{db}", prefix, mqtt={**mqtt, "ca_file": str(pki / "ca.crt")},
            gateways={"enrolment": "registered"},
        )  # fmt: skip
        tls = aiomqtt.TLSParameters(ca_certs=str(pki / "ca.crt"), cert_reqs=ssl.CERT_REQUIRED)
        gateway = aiomqtt.Client("127.0.0.1", port, username="school-a/gw-01", password=password, tls_params=tls)
        async with running_hub(settings) as hub, gateway:
            await gateway.publish(
                TopicTree(prefix).topic("school-a", "gw-01", MessageType.EVENT), encode(_panic(1)), qos=1
            )

            async def stored() -> list[str]:
                with hub.services.sessions() as session:
                    return list(session.scalars(select(Alarm.school_id).where(Alarm.kind == "panic")))

            assert await eventually(stored, 10) == ["school-a"]
    finally:
        proc.terminate()
        proc.wait(10)


async def test_admins_register_rotate_and_revoke_gateways_of_their_own_schools_over_the_api(tmp_path: Path) -> None:
    from tests.hub.test_auth import make_hub

    hub = make_hub(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        admin, d1, guard = hub.client(), hub.client(), hub.client()
        admin.headers.update(hub.bearer("admin"))
        d1.headers.update(hub.bearer("d1-admin"))
        guard.headers.update(hub.bearer("guard-a"))
        created = await admin.post("/api/v1/gateway-registry", json={"name": "school-a/gw-07"})
        assert created.status_code == 201 and created.json()["username"] == "school-a/gw-07"
        first = created.json()["password"]
        assert (await admin.post("/api/v1/gateway-registry", json={"name": "school-a/gw-07"})).status_code == 409
        assert (await guard.post("/api/v1/gateway-registry", json={"name": "school-a/gw-08"})).status_code == 403
        other = await d1.post("/api/v1/gateway-registry", json={"name": "school-b/gw-01"})  # another district's
        assert other.status_code == 404
        assert (await admin.post("/api/v1/gateway-registry", json={"name": "school-a/gw+1"})).status_code == 422
        rotated = await admin.post("/api/v1/gateway-registry/school-a/gw-07/rotate")
        assert rotated.status_code == 200 and rotated.json()["password"] != first
        listed = (await admin.get("/api/v1/gateway-registry")).json()
        assert [g["username"] for g in listed] == ["school-a/gw-07"] and "password" not in listed[0]
        assert (await admin.delete("/api/v1/gateway-registry/school-a/gw-07")).status_code == 204
        assert (await admin.get("/api/v1/gateway-registry")).json() == []
        assert hub.svc.ingest.store.registered_gateways() == frozenset()
    finally:
        hub.svc.sessions.kw["bind"].dispose()
