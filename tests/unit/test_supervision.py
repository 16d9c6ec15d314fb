"""A driver's bug stays with its device; systemd hears that the agent is alive (no sockets but a Unix one)."""

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import sdnotify
from agent.errors import AgentError
from agent.registers import Value
from agent.scheduler import PollLoop, PollPolicy

T0 = datetime(2026, 11, 27, tzinfo=UTC)


async def _run(loop: PollLoop, seconds: float) -> None:
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(seconds)
    loop.stop()
    await task


@pytest.mark.parametrize("where", ["driver", "success handler"])
async def test_an_unexpected_error_marks_the_device_internal_and_the_loop_goes_on(where: str) -> None:
    failures: list[AgentError] = []

    async def poll() -> dict[str, Value]:
        if where == "driver":
            raise RuntimeError("a library bug")
        return {"p": 1}

    def on_success(values: dict[str, Value], at: datetime, ms: float) -> None:
        raise KeyError("a bug in what the values set off")

    loop = PollLoop(
        "dev",
        PollPolicy(interval_s=0.01, deadline_s=1, backoff_after=100),
        poll,
        on_success=on_success,
        on_failure=lambda exc, at: failures.append(exc),
        now=lambda: T0,
        start_offset_s=0,
    )
    await _run(loop, 0.2)
    assert loop.polls >= 5, "the loop stopped at the first error"
    assert {f.reason for f in failures} == {"internal"}
    assert len(failures) == loop.polls == loop.internal_errors


def test_notify_speaks_to_systemds_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert sdnotify.notify("READY=1")
        assert server.recv(100) == b"READY=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert sdnotify.notify("READY=1") is False  # outside systemd: nothing, and no error


@pytest.mark.parametrize(
    ("usec", "pid", "period"),
    [("30000000", None, 15.0), ("0", None, None), ("", None, None), ("abc", None, None), ("30000000", "1", None)],
)
def test_the_watchdog_period_is_half_of_watchdog_sec(
    monkeypatch: pytest.MonkeyPatch, usec: str, pid: str | None, period: float | None
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is None:
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_PID", pid)  # another process's watchdog
    assert sdnotify.watchdog_period_s() == period
