"""Signed webhooks over HTTPS, against a local uvicorn receiver that verifies every signature."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hub.forwarding.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from hub.serve import EmbeddedServer
from tests.forwarding.support import forwarding, hub_store, until
from tests.support.servers import TlsFiles, free_port

pytestmark = pytest.mark.integration
SECRET = "s3cret-shared-with-the-platform"


def test_verify_accepts_our_signature_and_refuses_tampering_and_replays() -> None:
    body, now = b'{"kind":"panic"}', time.time()
    stamp = str(int(now))
    good = sign(SECRET.encode(), stamp, body)
    assert verify(SECRET.encode(), stamp, body, good, now_s=now)
    assert not verify(SECRET.encode(), stamp, body + b" ", good, now_s=now)
    assert not verify(b"other", stamp, body, good, now_s=now)
    assert not verify(SECRET.encode(), stamp, body, good, now_s=now + 3600)  # an old request replayed


@dataclass
class Platform:
    """A police/education platform: verifies, answers 503 first (to force a retry), then 200."""

    failures_left: int = 1
    received: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        valid = verify(
            SECRET.encode(),
            headers.get(TIMESTAMP_HEADER.lower(), ""),
            body,
            headers.get(SIGNATURE_HEADER.lower(), ""),
            now_s=time.time(),
        )
        self.received.append({"valid": valid, "key": headers.get(IDEMPOTENCY_HEADER.lower()), "body": json.loads(body)})
        status = 401 if not valid else 503 if self.failures_left else 200
        self.failures_left -= status == 503
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"no"})


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[tuple[Platform, str, Path]]:
    tls = TlsFiles(tmp_path / "tls")
    app, port = Platform(), free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key)
    )
    server = EmbeddedServer(config)

    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield app, f"https://127.0.0.1:{port}/alarms", tls.ca
    server.should_exit = True
    await task


async def test_alarm_posted_signed_and_retried_with_the_same_idempotency_key(
    tmp_path: Path, platform: tuple[Platform, str, Path]
) -> None:
    app, url, ca = platform
    receivers = {"edu": {"type": "webhook", "url": url, "secret": SECRET, "verify_tls": str(ca), "timeout_s": 3}}
    settings = forwarding(receivers, [{"name": "edu", "kinds": ["intrusion"], "primary": "edu"}])
    async with hub_store(f"sqlite:///{tmp_path / 'hub.db'}", settings) as hub:
        hub.raise_alarm("fence-1", "intrusion")
        await until(lambda: hub.rows()[0].state == "delivered", 10)
        [row], attempts = hub.rows(), hub.attempts()
    assert [(r["valid"], r["key"]) for r in app.received] == [(True, row.alarm_id)] * 2
    body = app.received[-1]["body"]
    assert body["event_id"] == row.alarm_id and body["kind"] == "intrusion"
    assert (body["contact_id"], body["sia_code"], body["zone"], body["account"]) == (131, "BA", 1, "1234")
    assert [a.result for a in attempts] == ["http_503", "ack"]
