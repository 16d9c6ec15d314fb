"""Video quality diagnosis (视频质量诊断): classify image metrics into fault classes, per camera.

Pure: metrics in (computed by agent.camera.video), verdicts out. Thresholds start from the measured values
in shared/research/camera-health.md §1.2-1.3 and are per-camera relative where scenes differ (blur,
occlusion, scene change compare with the camera's own healthy reference). A fault is reported only
after ``persistence`` bad checks in a row and cleared after ``clear_after`` good ones, so a passing
shadow or a person in front of the lens does not page the guards.
"""

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Faults that make a camera useless to a guard right now (it is "blind"); the rest are IT tickets.
BLIND = ("no_signal", "black", "white", "dark", "overexposed", "covered", "occluded", "moved", "frozen")
QUALITY = ("blur", "color_cast", "noise", "stripes", "low_contrast")


class Thresholds(BaseModel):
    """Decision thresholds; a profile or a device may override any of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    solid_share: float = Field(default=0.95, description="share of pixels near the histogram peak")
    solid_chroma: float = Field(default=30.0, description="colour strength of a 'no video' screen")
    black_mean: float = 15.0
    white_mean: float = 240.0
    flat_std: float = 4.0
    dark_mean: float = 30.0
    bright_mean: float = 220.0
    covered_cells: float = Field(default=0.8, description="share of textured reference cells now flat")
    occluded_cells: float = 0.3
    occluded_ncc: float = Field(default=0.7, description="an occluded picture also departs from the reference")
    moved_ncc: float = Field(default=0.5, description="correlation with the reference below which it moved")
    frozen_diff: float = Field(default=0.3, description="mean grey change between samples, scaled by contrast")
    low_contrast_std: float = 25.0
    blur_ratio: float = Field(default=0.5, description="contrast-normalised sharpness vs the baseline")
    blur_edges: float = Field(default=0.5, description="share of reference edges kept")
    cast_k: float = 1.0
    cast_d: float = 12.0
    noise_sigma: float = 10.0
    stripe_ratio: float = 0.2
    stripe_amp: float = 5.0


def sharpness_norm(m: dict[str, float]) -> float:
    """Laplacian variance divided by contrast squared: blur lowers it, low contrast does not."""
    return m["sharpness"] / max(m["y_std"], 1.0) ** 2


def classify(m: dict[str, float], t: Thresholds, baseline: dict[str, float] | None = None) -> str | None:
    """The most important fault the metrics show, or None.

    Precedence (camera-health.md §1.3): no signal > black/white > covered > dark/overexposed >
    occluded > moved > frozen > noise > low contrast > blur > colour cast > stripes. Reference
    metrics (``ncc_ref``, ``occluded_cells``, ``edges_kept``) tell a dark but intact scene from a
    covered lens; ``baseline`` holds the camera's own healthy medians.
    """
    ncc = m.get("ncc_ref")
    cells = m.get("occluded_cells")
    lost_scene = ncc is None or ncc < t.moved_ncc
    if m["peak_share"] > t.solid_share and m["cast_d"] > t.solid_chroma:
        return "no_signal"
    flat = m["y_std"] < t.flat_std or m["peak_share"] > t.solid_share  # a few OSD pixels do not make texture
    if flat and lost_scene:
        if m["y_mean"] < t.black_mean:
            return "black"
        if m["y_mean"] > t.white_mean:
            return "white"
    if cells is not None and cells >= t.covered_cells and lost_scene:
        return "covered"
    if m["y_mean"] < t.dark_mean:
        return "dark"
    if m["y_mean"] > t.bright_mean:
        return "overexposed"
    if cells is not None and ncc is not None and cells >= t.occluded_cells and ncc < t.occluded_ncc:
        return "occluded"
    if ncc is not None and ncc < t.moved_ncc:
        return "moved"
    diff = m.get("frame_diff")
    if diff is not None and diff < t.frozen_diff * min(1.0, m["y_std"] / 40):
        return "frozen"
    if m["noise_sigma"] > t.noise_sigma:  # before low contrast: H.264 smooths snow into a grey picture
        return "noise"
    if m["y_std"] < t.low_contrast_std:
        return "low_contrast"
    edges = m.get("edges_kept")
    if baseline and sharpness_norm(m) < t.blur_ratio * baseline["sharpness_norm"]:
        return "blur"
    if edges is not None and edges < t.blur_edges:
        return "blur"
    cast_limit = max(t.cast_k, 2 * baseline["cast_k"]) if baseline else t.cast_k
    if m["cast_k"] > cast_limit and m["cast_d"] > t.cast_d:
        return "color_cast"
    if m["stripe_ratio"] > t.stripe_ratio and m["stripe_amp"] > t.stripe_amp:
        return "stripes"
    return None


@dataclass
class Verdict:
    """What one check concluded, after persistence and hysteresis."""

    blind: str | None  # the blind fault class now reported, or None
    quality: str | None  # the image-quality fault now reported, or None
    raw: str | None  # what this single check saw
    metrics: dict[str, float] = field(default_factory=dict)


class _Debounced:
    """Report a class after ``persistence`` sightings in a row; clear after ``clear_after`` misses."""

    def __init__(self, persistence: int, clear_after: int) -> None:
        self.persistence, self.clear_after = persistence, clear_after
        self.reported: str | None = None
        self._candidate: str | None = None
        self._count = 0
        self._clear = 0

    def feed(self, seen: str | None) -> str | None:
        if seen is None:
            self._candidate, self._count = None, 0
            if self.reported is not None:
                self._clear += 1
                if self._clear >= self.clear_after:
                    self.reported, self._clear = None, 0
            return self.reported
        self._clear = 0
        if seen == self._candidate:
            self._count += 1
        else:
            self._candidate, self._count = seen, 1
        if self._count >= self.persistence:
            self.reported = seen
        return self.reported


class CameraDiagnosis:
    """Per-camera state: day and night baselines, and debounced fault reporting."""

    def __init__(self, thresholds: Thresholds, persistence: int = 3, clear_after: int = 2, learn_checks: int = 3):
        self.thresholds = thresholds
        self.learn_checks = learn_checks
        self._blind = _Debounced(persistence, clear_after)
        self._quality = _Debounced(persistence, clear_after)
        self.history: dict[str, list[dict[str, float]]] = {"day": [], "night": []}
        self.last_raw: str | None = None  # what the latest single check saw, before persistence
        self.checks = 0

    def baseline(self, mode: str) -> dict[str, float] | None:
        """The camera's typical healthy metrics in this light (medians), once learnt."""
        history = self.history[mode]
        if len(history) < self.learn_checks:
            return None
        out = {}
        for name in ("sharpness_norm", "cast_k"):
            values = sorted(h[name] for h in history)
            out[name] = values[len(values) // 2]
        return out

    def feed(self, metrics: dict[str, float], mode: str) -> Verdict:
        """Classify one check's metrics and update the reported faults."""
        raw = classify(metrics, self.thresholds, self.baseline(mode))
        self.last_raw, self.checks = raw, self.checks + 1
        if raw is None:
            history = self.history[mode]
            history.append({"sharpness_norm": sharpness_norm(metrics), "cast_k": metrics["cast_k"]})
            del history[:-20]  # follow slow changes (seasons); a sudden change is caught above
        blind = self._blind.feed(raw if raw in BLIND else None)
        quality = self._quality.feed(raw if raw in QUALITY else None)
        return Verdict(blind=blind, quality=quality, raw=raw, metrics=metrics)

    def state(self) -> dict[str, Any]:
        """What is learnt, for diagnostics."""
        return {mode: self.baseline(mode) for mode in self.history}
