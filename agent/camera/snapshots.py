"""JPEG snapshots kept on the gateway for a while, referenced by blind-camera events by id."""

import re
import time
from datetime import UTC, datetime
from pathlib import Path

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class SnapshotStore:
    """Files ``<dir>/<image_id>.jpg``; ids carry the device and the time, files expire."""

    def __init__(self, directory: Path, retention_h: float) -> None:
        self.directory = directory
        self.retention_s = retention_h * 3600
        self._last_prune = 0.0

    def save(self, device_id: str, jpeg: bytes, taken: datetime, image_id: str | None = None) -> str:
        """Keep a JPEG (under ``image_id`` when the hub named it); return its id."""
        if image_id is not None and (not _ID.match(image_id) or ".." in image_id):
            raise ValueError(f"image id {image_id!r} is not a plain name")
        self.directory.mkdir(parents=True, exist_ok=True)
        image_id = image_id or f"{device_id}.{taken.strftime('%Y%m%dT%H%M%S%f')}"
        path = self.directory / f"{image_id}.jpg"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(jpeg)
        tmp.replace(path)
        self.prune()
        return image_id

    def load(self, image_id: str) -> tuple[bytes, datetime] | None:
        """The JPEG and when it was taken, or None when unknown or expired."""
        if not _ID.match(image_id) or ".." in image_id:
            return None
        path = self.directory / f"{image_id}.jpg"
        if not path.is_file():
            return None
        return path.read_bytes(), datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def prune(self, force: bool = False) -> int:
        """Delete expired files (at most once a minute unless forced); return how many."""
        now = time.time()
        if not force and now - self._last_prune < 60:
            return 0
        self._last_prune = now
        removed = 0
        for path in self.directory.glob("*.jpg"):
            if now - path.stat().st_mtime > self.retention_s:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Nothing to release; files stay for their retention time."""
