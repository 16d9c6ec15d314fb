"""Everything the agent does with OpenCV (the only module importing cv2): streams and image metrics.

Capture options are explicit: transport, minimal probing, open and read timeouts, one decode thread
(shared/research/camera-health.md §4.2, §5.4). OpenCV reads FFmpeg options from one process-wide
environment variable at open time. The default (RTSP over TCP) is set once; only when some camera
needs other options (UDP) are opens serialized under a lock, since an RTSP handshake takes long
enough that a lock around every open caps a gateway at a few hundred checks a minute.
"""

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
ANALYSIS_WIDTH = 320
OSD_TOP, OSD_BOTTOM = 0.12, 0.10  # bands masked for temporal and reference comparisons (burnt-in clock)
_OPEN_LOCK = threading.Lock()
_FIXED = "probesize;32|analyzeduration;0|timeout;5000000"  # timeout: FFmpeg's socket timeout, in µs
DEFAULT_TRANSPORT = "tcp"
_serialize_opens = False
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", f"rtsp_transport;{DEFAULT_TRANSPORT}|{_FIXED}")
cv2.setNumThreads(1)


def require_transport(transport: str) -> None:
    """Declare, before any check runs, that a camera needs this RTSP transport."""
    global _serialize_opens  # noqa: PLW0603 - a process-wide switch, like the variable it guards
    if transport != DEFAULT_TRANSPORT:
        _serialize_opens = True


@dataclass
class StreamResult:
    """What opening and reading a stream showed."""

    opened: bool
    error: str | None = None
    open_ms: float | None = None
    packets: int = 0
    bytes: int = 0
    seconds: float = 0.0
    width: int | None = None
    height: int | None = None
    frames: list[Frame] = field(default_factory=list)

    @property
    def fps(self) -> float | None:
        """Packets (or frames) per second actually received."""
        return round(self.packets / self.seconds, 2) if self.seconds > 0 and self.packets else None

    @property
    def bitrate_kbps(self) -> float | None:
        """Received kilobits per second (raw mode only)."""
        return round(self.bytes * 8 / 1000 / self.seconds, 1) if self.seconds > 0 and self.bytes else None


def _open(url: str, transport: str, open_timeout_s: float, read_timeout_s: float) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
        cv2.CAP_PROP_N_THREADS,
        1,
    ]
    if not _serialize_opens:
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    with _OPEN_LOCK:
        previous = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{transport}|{_FIXED}"
        try:
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        finally:
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = previous


def read_stream(
    url: str,
    *,
    decode_frames: int,
    liveness_s: float,
    transport: str = "tcp",
    open_timeout_s: float = 3.0,
    read_timeout_s: float = 3.0,
    deadline_s: float = 10.0,
) -> StreamResult:
    """Open a stream; without decoding (``decode_frames == 0``) count packets for ``liveness_s``,
    otherwise decode that many frames and keep the first and the last. Blocking: run in a worker."""
    started = time.monotonic()
    cap = _open(url, transport, open_timeout_s, read_timeout_s)
    try:
        if not cap.isOpened():
            return StreamResult(opened=False, error="cannot open stream")
        result = StreamResult(opened=True, open_ms=round((time.monotonic() - started) * 1000, 1))
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        result.width, result.height = (width or None), (height or None)
        if decode_frames == 0:
            cap.set(cv2.CAP_PROP_FORMAT, -1)  # demux only: packets, no decoding
        read_start = time.monotonic()
        last: Frame | None = None
        while time.monotonic() - started < deadline_s:
            ok, data = cap.read()
            if not ok:
                if result.packets == 0:
                    result.error = "no data"
                break
            result.packets += 1
            if decode_frames == 0:
                result.bytes += int(data.size)
                if time.monotonic() - read_start >= liveness_s:
                    break
            else:
                frame = np.asarray(data, dtype=np.uint8)
                if not result.frames:
                    result.frames.append(frame)
                    result.width, result.height = frame.shape[1], frame.shape[0]
                last = frame
                if result.packets >= decode_frames:
                    break
        else:
            result.error = result.error or "deadline"
        result.seconds = round(time.monotonic() - read_start, 3)
        if last is not None and result.packets > 1:
            result.frames.append(last)
        return result
    finally:
        cap.release()


def small_grey(frame: Frame) -> Frame:
    """The frame in grey, ANALYSIS_WIDTH wide: all thresholds are for this scale."""
    height = max(1, round(frame.shape[0] * ANALYSIS_WIDTH / frame.shape[1]))
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(grey, (ANALYSIS_WIDTH, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _mask(grey: npt.NDArray[Any]) -> npt.NDArray[Any]:
    h = grey.shape[0]
    return grey[int(h * OSD_TOP) : h - int(h * OSD_BOTTOM)]


def light_mode(frame: Frame) -> str:
    """ "night" for an infrared (grey) picture, else "day": they need separate baselines."""
    hsv = cv2.cvtColor(cv2.resize(frame, (ANALYSIS_WIDTH // 2, ANALYSIS_WIDTH // 4)), cv2.COLOR_BGR2HSV)
    return "night" if float(np.mean(hsv[:, :, 1] < 25)) > 0.83 else "day"


def _noise_sigma(frame: Frame) -> float:
    """Immerkær's fast noise estimate, on a native-resolution centre crop (downscaling hides noise)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h, w = grey.shape
    crop = grey[h // 4 : h - h // 4, w // 4 : w - w // 4]
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = np.abs(cv2.filter2D(crop, -1, kernel))[1:-1, 1:-1]
    ch, cw = crop.shape
    return float(np.sqrt(np.pi / 2) * response.sum() / (6 * (cw - 2) * (ch - 2)))


def _cells_flat_share(grey: Frame, reference: Frame, grid: int = 8) -> float:
    h, w = grey.shape
    textured = flat = 0
    for i in range(grid):
        for j in range(grid):
            ys, xs = slice(i * h // grid, (i + 1) * h // grid), slice(j * w // grid, (j + 1) * w // grid)
            ref_std = float(np.std(reference[ys, xs]))
            if ref_std <= 8:
                continue
            textured += 1
            now_std = float(np.std(grey[ys, xs]))
            if now_std < 0.35 * ref_std and now_std < 8:
                flat += 1
    return flat / textured if textured else 0.0


def _edges_kept(grey: Frame, reference: Frame) -> float:
    """Share of the reference's edges still present (defocus and covering remove them)."""
    ref_edges = cv2.Canny(reference, 50, 150) > 0
    if not ref_edges.any():
        return 1.0
    now_edges = cv2.dilate(cv2.Canny(grey, 50, 150), np.ones((3, 3), np.uint8)) > 0
    return float((ref_edges & now_edges).sum() / ref_edges.sum())


def image_metrics(frame: Frame, previous: Frame | None, reference: Frame | None) -> dict[str, float]:
    """Every VQD metric of one frame; temporal ones against ``previous``, scene ones against ``reference``.

    ``previous`` and ``reference`` are outputs of ``small_grey``.
    """
    grey = small_grey(frame)
    body = _mask(grey)  # the burnt-in clock must not make a black screen look textured
    y_mean, y_std = (float(v[0][0]) for v in cv2.meanStdDev(body))
    hist = np.bincount(body.ravel(), minlength=256)
    peak = int(np.argmax(hist))
    peak_share = float(hist[max(0, peak - 4) : peak + 5].sum() / body.size)
    small = cv2.resize(frame, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    a, b = lab[:, :, 1] - 128, lab[:, :, 2] - 128
    da, db = float(a.mean()), float(b.mean())
    cast_d = float(np.hypot(da, db))
    spread = float(np.mean(np.hypot(a - da, b - db)))
    high = grey.astype(np.float32) - cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 8)
    rows = _mask(high).mean(axis=1)
    total_var = float(np.var(_mask(high))) or 1e-6
    spectrum = np.abs(np.fft.rfft(rows - rows.mean()))[1:]
    metrics = {
        "y_mean": round(y_mean, 2),
        "y_std": round(y_std, 2),
        "peak_share": round(peak_share, 3),
        "sharpness": round(float(cv2.Laplacian(grey, cv2.CV_64F).var()), 1),
        "noise_sigma": round(_noise_sigma(frame), 2),
        "cast_k": round(cast_d / spread if spread > 1e-6 else 0.0, 3),
        "cast_d": round(cast_d, 2),
        "stripe_ratio": round(float(np.var(rows)) / total_var, 3),
        "stripe_amp": round(float(spectrum.max() * 2 / len(rows)) if spectrum.size else 0.0, 2),
    }
    if previous is not None and previous.shape == grey.shape:
        metrics["frame_diff"] = round(float(np.mean(cv2.absdiff(_mask(grey), _mask(previous)))), 3)
    if reference is not None and reference.shape == grey.shape:
        a_img = cv2.GaussianBlur(_mask(grey).astype(np.float32), (0, 0), 2)
        b_img = cv2.GaussianBlur(_mask(reference).astype(np.float32), (0, 0), 2)
        a_img, b_img = a_img - a_img.mean(), b_img - b_img.mean()
        denominator = float(np.sqrt((a_img * a_img).sum() * (b_img * b_img).sum()))
        metrics["ncc_ref"] = round(float((a_img * b_img).sum()) / denominator if denominator else 0.0, 3)
        metrics["occluded_cells"] = round(_cells_flat_share(_mask(grey), _mask(reference)), 3)
        metrics["edges_kept"] = round(_edges_kept(_mask(grey), _mask(reference)), 3)
    return metrics


def encode_jpeg(frame: Frame, quality: int = 80) -> bytes:
    """A JPEG of the frame, for the snapshot kept with a blind event."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode frame")
    return bytes(data.tobytes())
