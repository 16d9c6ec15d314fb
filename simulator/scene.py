"""A synthetic school-gate scene and every video fault class, as BGR frames (numpy + OpenCV).

The scene is textured (so blur, covering and moving show), has a moving box (so a live picture
changes) and a burnt-in OSD clock (so a frozen picture still ticks, as real cameras do).
"""

import math
from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]

FAULTS = (
    "black",
    "white",
    "no_signal",
    "dark",
    "overexposed",
    "frozen",
    "blur",
    "covered",
    "occluded",
    "moved",
    "color_cast",
    "noise",
    "stripes",
    "low_contrast",
)


def _base(width: int, height: int, seed: int) -> Frame:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    for _ in range(25):  # buildings, windows, a fence: edges everywhere
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 20, width // 5)), int(rng.integers(height // 20, height // 4))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(img, (x, y), (x + w, y + h), color, -1 if rng.random() < 0.5 else 2)
    for x in range(0, width, max(width // 40, 4)):
        cv2.line(img, (x, int(height * 0.75)), (x, height), (40, 40, 40), 1)
    return np.asarray(img, dtype=np.uint8)


class Scene:
    """Renders frames of one simulated camera, with an optional fault."""

    def __init__(self, width: int = 640, height: int = 360, seed: int = 7) -> None:
        self.width, self.height = width, height
        self.base = _base(width, height, seed)
        self._frozen: Frame | None = None
        self._rng = np.random.default_rng(seed + 1)

    def _live(self, t: float) -> Frame:
        img = self.base.copy()
        x = int((math.sin(t * 0.8) + 1) / 2 * (self.width - 60))
        cv2.rectangle(img, (x, self.height // 2), (x + 50, self.height // 2 + 40), (30, 200, 30), -1)
        noise = self._rng.normal(0, 3, img.shape)
        return np.asarray(np.clip(img + noise, 0, 255), dtype=np.uint8)

    def _osd(self, img: Frame, now: datetime) -> Frame:
        text = now.strftime("%Y-%m-%d %H:%M:%S") + f".{now.microsecond // 100000}"
        cv2.putText(img, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(img, "CAM-01 GATE", (8, self.height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        return img

    def frame(self, t: float, fault: str | None = None, now: datetime | None = None) -> Frame:
        """The picture at time ``t`` seconds, with ``fault`` applied."""
        now = now or datetime.now(UTC)
        if fault != "frozen":
            self._frozen = None
        img = self._live(t)
        h, w = self.height, self.width
        if fault == "frozen":
            if self._frozen is None:
                self._frozen = img
            img = self._frozen.copy()
        elif fault == "black":
            img = np.asarray(self._rng.integers(0, 5, img.shape), dtype=np.uint8)
        elif fault == "white":
            img = np.asarray(self._rng.integers(250, 256, img.shape), dtype=np.uint8)
        elif fault == "no_signal":
            img = np.zeros_like(img)
            img[:] = (190, 0, 0)  # the classic blue "no video" screen (BGR)
            cv2.putText(img, "NO SIGNAL", (w // 3, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
            return img
        elif fault == "dark":
            img = np.asarray(img * 0.08, dtype=np.uint8)
        elif fault == "overexposed":
            img = np.asarray(np.clip(img.astype(np.float32) * 0.15 + 225, 0, 255), dtype=np.uint8)
        elif fault == "blur":
            img = np.asarray(cv2.GaussianBlur(img, (0, 0), 6), dtype=np.uint8)
        elif fault == "covered":
            img = np.asarray(np.clip(self._rng.normal(22, 2, img.shape), 0, 255), dtype=np.uint8)
        elif fault == "occluded":
            img[:, : int(w * 0.6)] = np.asarray(
                np.clip(self._rng.normal(30, 2, (h, int(w * 0.6), 3)), 0, 255), dtype=np.uint8
            )
        elif fault == "moved":
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.4)
            img = np.asarray(cv2.warpAffine(img, matrix, (w, h), borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)
        elif fault == "color_cast":
            img = img.copy()
            img[:, :, 2] = np.clip(img[:, :, 2].astype(np.int16) + 90, 0, 255).astype(np.uint8)
            img[:, :, 0] = (img[:, :, 0] * 0.5).astype(np.uint8)
        elif fault == "noise":
            img = np.asarray(np.clip(img + self._rng.normal(0, 40, img.shape), 0, 255), dtype=np.uint8)
        elif fault == "stripes":
            rows = (np.sin(np.arange(h) * 2 * math.pi / 12 + t * 3) * 45).astype(np.int16)[:, None, None]
            img = np.asarray(np.clip(img.astype(np.int16) + rows, 0, 255), dtype=np.uint8)
        elif fault == "low_contrast":
            img = np.asarray(img * 0.1 + 165, dtype=np.uint8)
        elif fault is not None:
            raise ValueError(f"unknown fault {fault!r}")
        return self._osd(img, now)

    def jpeg(self, t: float, fault: str | None = None, quality: int = 80) -> bytes:
        """The frame encoded as JPEG."""
        ok, data = cv2.imencode(".jpg", self.frame(t, fault), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return bytes(data.tobytes())
