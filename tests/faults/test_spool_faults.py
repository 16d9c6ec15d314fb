"""The gateway's spool disk full: the agent keeps running, says so, and loses no press.

The disk is a real tmpfs the test mounts (the tests run as root, as CI does) and fills under the
running agent process. A read-only spool is tested at the spool's level (tests/unit/test_spool.py):
Linux refuses to remount a file system read-only while SQLite holds its files open for writing.
"""

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.support import System, system
from tests.hub.support import eventually
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of the test's own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65_536)
            out.flush()
    return filler


async def spool_alarm(s: System, condition: str) -> dict[str, Any]:
    """Wait for the gateway's spool_failure alarm to be in ``condition``."""

    async def found() -> dict[str, Any] | None:
        alarms = await s.alarms("spool_failure")
        return alarms[-1] if alarms and alarms[-1]["condition"] == condition else None

    alarm: dict[str, Any] = await eventually(found, 20)
    return alarm


async def test_a_full_spool_disk_is_reported_and_the_press_arrives_once_there_is_room(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path, small_disk: Path
) -> None:
    async with system(mosquitto, db_url, tmp_path, spool=small_disk / "spool.db") as s:
        filler = fill(small_disk)
        await s.act("press")
        alarm = await spool_alarm(s, "active")
        assert (alarm["device_id"], alarm["gateway_id"]) == (None, "gw-01")
        assert s.agent is not None and s.agent.poll() is None, "the agent died of a full disk"
        filler.unlink()
        await s.settled(1)  # the press was found again once it could be kept, and reached the police
        await spool_alarm(s, "cleared")
