"""The agent's Prometheus ``/metrics``, off unless ``metrics.port`` is set (docs/hub.md lists both).

A few lines of HTTP on the agent's own event loop, no library: one GET at a time, answered from what
the agent already holds (the same figures its snapshots send), so a scraper costs no device a poll.
Anything but ``GET /metrics`` gets 404; a request line over 8 KiB, or none within 5 s, is dropped.
"""

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from agent import __version__

if TYPE_CHECKING:
    from agent.runtime import Agent, DeviceRuntime

Sample = tuple[Mapping[str, str], float]
TIMEOUT_S = 5.0
MAX_LINE = 8_192


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(metrics: Iterable[tuple[str, str, str, Iterable[Sample]]]) -> str:
    """The text format: for each (name, type, help, samples) its HELP and TYPE lines and samples."""
    lines: list[str] = []
    for name, kind, help_text, samples in metrics:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            if math.isnan(value):
                continue
            text = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
    return "\n".join(lines) + "\n"


def render(agent: "Agent") -> str:
    """The Prometheus exposition of the agent's own figures."""
    stats = agent.spool.stats()
    devices = [({"device": d.config.id, "kind": d.profile.kind}, d) for d in agent.devices.values()]
    identity = {"school": agent.config.school_id, "gateway": agent.config.gateway_id, "version": __version__}
    one: Callable[[float], list[Sample]] = lambda value: [({}, float(value))]  # noqa: E731
    return exposition(
        [
            ("campusguard_agent_info", "gauge", "The agent's identity and version.", [(identity, 1.0)]),
            (
                "campusguard_agent_mqtt_connected",
                "gauge",
                "1 while connected.",
                one(agent.publisher.connected.is_set()),
            ),
            (
                "campusguard_agent_events_sent_total",
                "counter",
                "Events handed to the broker.",
                one(agent.publisher.sent),
            ),
            (
                "campusguard_agent_spool_pending_events",
                "gauge",
                "Events waiting for the ack.",
                one(stats.pending_events),
            ),
            ("campusguard_agent_spool_pending_alarms", "gauge", "Alarm events waiting.", one(stats.pending_alarms)),
            (
                "campusguard_agent_spool_dropped_telemetry_total",
                "counter",
                "Telemetry dropped over the cap.",
                one(stats.dropped_telemetry),
            ),
            ("campusguard_agent_spool_write_errors_total", "counter", "Failed writes.", one(agent.spool.write_errors)),
            (
                "campusguard_agent_spool_failing",
                "gauge",
                "1 while it cannot be written.",
                one(agent.spool.failure is not None),
            ),
            *_devices(devices),
        ]
    )


def _devices(devices: list[tuple[dict[str, str], "DeviceRuntime"]]) -> list[tuple[str, str, str, list[Sample]]]:
    return [
        (
            "campusguard_agent_device_up",
            "gauge",
            "1 while online or degraded.",
            [(labels, float(d.availability.state in ("online", "degraded"))) for labels, d in devices],
        ),
        (
            "campusguard_agent_device_intact",
            "gauge",
            "1 while online and not degraded.",
            [(labels, float(d.availability.state == "online")) for labels, d in devices],
        ),
        (
            "campusguard_agent_device_polls_total",
            "counter",
            "Polls made.",
            [(labels, float(d.loop.polls if d.loop else 0)) for labels, d in devices],
        ),
        (
            "campusguard_agent_device_poll_ms",
            "gauge",
            "The last poll's round trip.",
            [(labels, d.poll_ms if d.poll_ms is not None else math.nan) for labels, d in devices],
        ),
    ]


async def _answer(render: Callable[[], str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            request = await reader.readuntil(b"\r\n\r\n")
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    method, _, rest = request.partition(b" ")
    path = rest.partition(b" ")[0].partition(b"?")[0]
    if method == b"GET" and path == b"/metrics":
        status, body, kind = "200 OK", render().encode(), "text/plain; version=0.0.4; charset=utf-8"
    else:
        status, body, kind = "404 Not Found", b"not found\n", "text/plain; charset=utf-8"
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(ConnectionError):
        writer.write(head.encode() + body)
        await writer.drain()
    writer.close()


async def serve(host: str, port: int, render: Callable[[], str]) -> asyncio.Server:
    """Start answering on host:port (port 0: any free one); close the server to stop."""
    return await asyncio.start_server(lambda r, w: _answer(render, r, w), host, port, limit=MAX_LINE)
