"""Signed webhooks: an alarm as JSON over HTTPS POST, for local police and education platforms.

Headers:
- ``X-CampusGuard-Timestamp``: Unix seconds when signed; receivers refuse old ones (replays).
- ``X-CampusGuard-Signature``: ``sha256=`` + hex HMAC-SHA256 over ``<timestamp>.<body bytes>`` with
  the shared secret.
- ``Idempotency-Key``: the event id (alarm id, ``.restore`` for a restore); the same on every retry,
  so a receiver that got a message whose answer was lost can recognise the resend.

Any 2xx is the acknowledgement; anything else is retried by the outbox with backoff. The standard
library's HTTP client runs in a thread: one request at a time per receiver, no extra dependency.
"""

import asyncio
import hashlib
import hmac
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.forwarding.errors import AckTimeout, ReceiverUnreachable, Rejected
from hub.forwarding.sender import Delivery
from hub.forwarding.settings import WebhookReceiver

if TYPE_CHECKING:
    from hub.forwarding.outbox import Outbound

SIGNATURE_HEADER = "X-CampusGuard-Signature"
TIMESTAMP_HEADER = "X-CampusGuard-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at ``timestamp``."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(
    secret: bytes, timestamp: str, body: bytes, signature: str, *, now_s: float, tolerance_s: float = 300
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        fresh = abs(now_s - int(timestamp)) <= tolerance_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def event_id(message: "Outbound") -> str:
    """The idempotency key of one forwarded event."""
    return f"{message.alarm_id}.restore" if message.restore else message.alarm_id


def payload(message: "Outbound", sent_at: datetime) -> dict[str, Any]:
    """The JSON body."""
    return {
        "event_id": event_id(message),
        "alarm_id": message.alarm_id,
        "kind": message.kind,
        "restore": message.restore,
        "school_id": message.school_id,
        "device_id": message.device_id,
        "account": message.account,
        "area": message.area,
        "zone": message.zone,
        "contact_id": message.cid,
        "sia_code": message.sia,
        "event_at": message.event_at.astimezone(UTC).isoformat(),
        "sent_at": sent_at.astimezone(UTC).isoformat(),
    }


class WebhookSender:
    """POSTs alarms to one URL."""

    def __init__(
        self, name: str, settings: WebhookReceiver, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.name = name
        self.settings = settings
        self.secret = settings.secret_bytes()
        self.clock = clock
        self._lock = asyncio.Lock()
        verify_tls = settings.verify_tls
        if verify_tls is False:
            self._tls = ssl._create_unverified_context()  # noqa: S323  # explicitly configured
        elif isinstance(verify_tls, str):
            self._tls = ssl.create_default_context(cafile=verify_tls)
        else:
            self._tls = ssl.create_default_context()

    async def deliver(self, message: "Outbound") -> Delivery:
        """POST and wait for a 2xx."""
        body = json.dumps(payload(message, self.clock()), separators=(",", ":"), ensure_ascii=False).encode()
        stamp = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(self.secret, stamp, body),
            IDEMPOTENCY_HEADER: event_id(message),
        }
        async with self._lock:
            started = time.monotonic()
            status = await asyncio.to_thread(self._post, body, headers)
        return Delivery(time.monotonic() - started, None, f"HTTP {status}")

    def _post(self, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.settings.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s, context=self._tls) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response and its socket
            raise Rejected(f"{self.name}: HTTP {exc.code}", result=f"http_{exc.code}") from None
        except TimeoutError:
            raise AckTimeout(f"{self.name}: no answer within {self.settings.timeout_s} s") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise AckTimeout(f"{self.name}: no answer within {self.settings.timeout_s} s") from None
            raise ReceiverUnreachable(f"{self.name}: {reason}") from None

    async def supervise(self) -> None:
        """Nothing to supervise between alarms (no link-test message in this protocol)."""

    async def close(self) -> None:
        """Nothing held open."""
