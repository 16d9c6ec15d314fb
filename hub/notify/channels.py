"""Sending one message on one channel: WeCom and DingTalk group robots (their own JSON, DingTalk's
signature), e-mail over SMTP, SMS through an HTTP gateway. Each returns a short result for the record,
or raises ``SendFailed``."""

import asyncio
import base64
import hashlib
import hmac
import smtplib
import time
from collections.abc import Mapping
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr

import httpx

from hub.notify.settings import Channel


class SendFailed(Exception):
    """The channel did not take the message: the reason, for the record."""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature (加签): base64 of HMAC-SHA256 over "timestamp\\nsecret", keyed by the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def _robot(
    client: httpx.AsyncClient, channel: Channel, body: Mapping[str, object], params: dict[str, str]
) -> str:
    try:
        # merged, not passed as params=: httpx would drop the webhook's own key or access_token
        url = httpx.URL(str(channel.url)).copy_merge_params(params)
        response = await client.post(url, json=body, timeout=channel.timeout_s)
    except httpx.HTTPError as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        raise SendFailed(f"HTTP {response.status_code}: not JSON") from None
    if response.status_code != 200 or answer.get("errcode") != 0:  # both robots answer errcode 0 when sent
        raise SendFailed(f"HTTP {response.status_code}: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")
    return "ok"


async def send(client: httpx.AsyncClient, channel: Channel, title: str, text: str) -> str:
    """Send on the channel; the result for the record, or SendFailed."""
    if channel.type == "wecom":
        return await _robot(
            client, channel, {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{text}"}}, {}
        )
    if channel.type == "dingtalk":
        params: dict[str, str] = {}
        secret = channel.secret_value()
        if secret:
            stamp = int(time.time() * 1000)
            params = {"timestamp": str(stamp), "sign": dingtalk_sign(secret, stamp)}
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n{text}"}}
        return await _robot(client, channel, body, params)
    if channel.type == "sms":
        token = channel.secret_value()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await client.post(
                str(channel.url), json={"phones": list(channel.to), "text": f"{title} {text}"}, headers=headers,
                timeout=channel.timeout_s,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise SendFailed(f"HTTP {response.status_code}: {response.text[:200]}")
        return f"HTTP {response.status_code}"
    return await asyncio.to_thread(email, channel, title, text)


def email(channel: Channel, title: str, text: str) -> str:
    """One e-mail (blocking: the notifier runs it in a thread)."""
    message = MIMEText(text, "plain", "utf-8")
    message["Subject"] = Header(title, "utf-8").encode()
    message["From"] = formataddr(("CampusGuard", str(channel.sender)))
    message["To"] = ", ".join(channel.to)
    try:
        with smtplib.SMTP(str(channel.host), channel.port, timeout=channel.timeout_s) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.username:
                smtp.login(channel.username, channel.secret_value() or "")
            refused = smtp.sendmail(str(channel.sender), list(channel.to), message.as_string())
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}") from None
    return f"refused {sorted(refused)}" if refused else "ok"
