"""Cameras: the driver (``driver``), stream reading and image metrics (``video``), the diagnosis
of covered, frozen, black or blurred pictures (``vqd``), ONVIF (``onvif``), the shared decoding
pool (``pool``) and the JPEGs kept for alarms (``snapshots``). Imported only when a camera is
configured, so a gateway without cameras never loads OpenCV.
"""

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.camera.profile import CameraProfile
from agent.drivers.spec import DriverSpec

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.drivers.base import DriverContext


def _check_address(address: str) -> None:
    parts = urlsplit(address)
    if not parts.hostname:
        raise ValueError(f"{address!r} has no host")
    if parts.password:
        raise ValueError("put camera passwords in password_env or password_file, not in the address")


def _prepare(config: "AgentConfig", context: "DriverContext") -> None:
    """One decoding pool for every camera of the gateway, and the store of alarm snapshots."""
    from agent.camera.pool import VideoPool  # no thread pool on a gateway without cameras
    from agent.camera.snapshots import SnapshotStore

    context.shared["video"] = VideoPool(config.cameras.cpu_budget_cores, config.cameras.workers)
    context.shared["snapshots"] = SnapshotStore(config.cameras.snapshot_dir, config.cameras.snapshot_retention_h)


SPEC = DriverSpec(
    name="camera",
    profile=CameraProfile,
    schemes=("rtsp", "rtsps", "http", "https", "onvif"),
    check_address=_check_address,
    create="agent.camera.driver:create",
    device_fields=frozenset({"username", "password_env", "password_file", "stream_url", "substream_url"}),
    prepare=_prepare,
)
