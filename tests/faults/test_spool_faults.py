"""The gateway's spool disk full or dead: the agent keeps running, says so, and loses no press.

The disks are real and mounted by the test (the tests run as root, as CI does): a 4 MiB tmpfs filled
under the running agent; and an ext4 file system on a loop device that the kernel makes read-only
under it, as it does when a gateway's SD card fails (``errors=remount-ro``, set off through ext4's
``trigger_fs_error``; a plain remount is refused while SQLite holds its files open for writing).
"""

import contextlib
import subprocess
from collections.abc import Callable, Iterator
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


@pytest.fixture
def failing_disk(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """An ext4 file system on a loop device, and how to make the kernel turn it read-only."""
    image, mount = tmp_path / "disk.img", tmp_path / "ext4"
    mount.mkdir()
    with image.open("wb") as out:
        out.truncate(32 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    loop = subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True)
    device = loop.stdout.strip()
    try:
        subprocess.run(["mount", "-o", "errors=remount-ro", device, str(mount)], check=True)

        def fail() -> None:
            Path(f"/sys/fs/ext4/{Path(device).name}/trigger_fs_error").write_text("campusguard test\n")

        yield mount, fail
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        subprocess.run(["losetup", "-d", device], check=False)


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


async def test_a_spool_disk_turned_read_only_costs_no_press(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path, failing_disk: tuple[Path, Callable[[], None]]
) -> None:
    disk, fail = failing_disk
    async with system(mosquitto, db_url, tmp_path, spool=disk / "spool.db") as s:
        fail()
        with pytest.raises(OSError, match="Read-only"):
            (disk / "probe").write_text("x")  # the kernel refuses writes now
        await s.act("press")
        await s.settled(1)  # delivered from memory, once, with the disk read-only
        alarm = await spool_alarm(s, "active")
        assert (alarm["device_id"], alarm["gateway_id"]) == (None, "gw-01")
        for action in ("release", "reset", "press"):  # a new press after a reset is a new alarm
            await s.act(action)
        await s.settled(2)
        assert s.agent is not None and s.agent.poll() is None, "the agent died of a read-only disk"
