"""What the ONVIF adapter (``agent.camera.onvif``) learns from a camera, and the small conversions of
its answers: plain values and functions, with no ONVIF library behind them."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AUTH_SUBCODES = frozenset({"NotAuthorized", "FailedAuthentication", "InvalidSecurityToken"})

# Topic (without its namespace prefix) -> (state, data items that carry it). Topic prefixes are the
# camera's choice (tns1 is usual), so they are stripped before matching.
EVENT_TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "RuleEngine/TamperDetector/Tamper": ("tamper", ("IsTamper", "State")),
    "VideoSource/MotionAlarm": ("motion", ("State", "IsMotion")),
    "RuleEngine/CellMotionDetector/Motion": ("motion", ("IsMotion", "State")),
    "VideoSource/SignalLoss": ("signal_loss", ("State",)),
}


@dataclass(frozen=True)
class OnvifProfileInfo:
    """One media profile: its video encoder settings and RTSP URI (credentials stripped)."""

    token: str
    name: str
    width: int | None
    height: int | None
    fps_limit: float | None
    bitrate_kbps: int | None
    codec: str | None
    gov_length: int | None
    stream_uri: str | None


@dataclass(frozen=True)
class OnvifInfo:
    """What one probe learnt about a camera."""

    manufacturer: str
    model: str
    firmware: str
    serial: str
    clock_drift_s: float  # camera UTC minus gateway UTC
    profiles: list[OnvifProfileInfo]  # device order: [0] is the main stream, [1] usually the substream
    retention_days: float | None  # Profile G DataUntil - DataFrom; None without a search service
    recording_lag_s: float | None  # camera's now - DataUntil


def topic_state(topic: str, items: Mapping[str, str]) -> tuple[str, bool] | None:
    """The (state name, value) an event notification sets, or None when it is not one we track."""
    bare = "/".join(part.rsplit(":", 1)[-1] for part in topic.strip().split("/"))
    known = EVENT_TOPICS.get(bare)
    if known is None:
        return None
    name, item_names = known
    for item in item_names:
        if item in items:
            return name, items[item].strip().lower() in {"true", "1"}
    return None


def is_auth_fault(fault: Any) -> bool:
    """NotAuthorized subcode (ter:, or wsse: on some firmware), or the same words in a bare fault."""
    codes = [getattr(code, "localname", str(code)) for code in getattr(fault, "subcodes", None) or []]
    codes.append(str(getattr(fault, "code", "") or "").rsplit(":", 1)[-1])
    if AUTH_SUBCODES.intersection(codes):
        return True
    message = str(getattr(fault, "message", "") or "").lower()
    return "not authorized" in message or "unauthorized" in message


def strip_credentials(uri: str) -> str:
    """Some firmware puts user:password into the stream URI; the agent must not carry it around."""
    scheme, sep, rest = uri.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return uri
    return f"{scheme}://{authority.rsplit('@', 1)[1]}{slash}{path}"


def utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def as_int(value: Any) -> int | None:
    return None if value is None else int(value)


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)
