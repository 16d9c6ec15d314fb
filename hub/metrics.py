"""Counters and gauges of the hub, rendered in the Prometheus text format (no client library)."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Metrics:
    """What /metrics reports: ingest rate, rejects by reason, batch latency, queue depths."""

    messages: Counter[str] = field(default_factory=Counter)
    events_stored: int = 0
    events_duplicate: int = 0
    acks_published: int = 0
    rebirths_requested: int = 0
    batches: int = 0
    batch_seconds_sum: float = 0.0
    batch_seconds_max: float = 0.0
    batch_failures: int = 0
    ingest_restarts: int = 0
    poison_skipped: int = 0
    sweeps: int = 0
    watchdog_deferred: int = 0
    device_updates: int = 0
    gauges: dict[str, Callable[[], float]] = field(default_factory=dict)
    labelled: dict[str, Callable[[], dict[str, int]]] = field(default_factory=dict)

    def observe_batch(self, seconds: float) -> None:
        """Record one committed batch's latency."""
        self.batches += 1
        self.batch_seconds_sum += seconds
        self.batch_seconds_max = max(self.batch_seconds_max, seconds)

    def render(self) -> str:
        """The Prometheus exposition text."""
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: Sequence[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

        metric(
            "campusguard_hub_messages_total",
            "counter",
            "Valid messages ingested by type.",
            [(f'{{type="{t}"}}', n) for t, n in sorted(self.messages.items())],
        )
        metric(
            "campusguard_hub_events_stored_total", "counter", "Events stored (first copy).", [("", self.events_stored)]
        )
        metric("campusguard_hub_events_duplicate_total", "counter", "Replayed events.", [("", self.events_duplicate)])
        metric("campusguard_hub_acks_published_total", "counter", "Ack messages sent.", [("", self.acks_published)])
        metric("campusguard_hub_rebirths_total", "counter", "Rebirth commands sent.", [("", self.rebirths_requested)])
        metric(
            "campusguard_hub_device_updates_total",
            "counter",
            "Device states applied from snapshots.",
            [("", self.device_updates)],
        )
        metric("campusguard_hub_sweeps_total", "counter", "Watchdog/escalation sweeps run here.", [("", self.sweeps)])
        metric(
            "campusguard_hub_watchdog_deferred_total",
            "counter",
            "Sweeps whose heartbeat watchdog waited because ingest was behind its load.",
            [("", self.watchdog_deferred)],
        )
        metric("campusguard_hub_batch_failures_total", "counter", "Failed batch commits.", [("", self.batch_failures)])
        metric(
            "campusguard_hub_ingest_restarts_total",
            "counter",
            "Turns of the ingest loop that failed unexpectedly and were logged and skipped.",
            [("", self.ingest_restarts)],
        )
        metric(
            "campusguard_hub_poison_skipped_total",
            "counter",
            "Resends of events already kept as dead letters.",
            [("", self.poison_skipped)],
        )
        metric(
            "campusguard_hub_batch_seconds",
            "summary",
            "Batch commit latency.",
            [("_sum", self.batch_seconds_sum), ("_count", self.batches)],
        )
        metric("campusguard_hub_batch_seconds_max", "gauge", "Slowest batch.", [("", self.batch_seconds_max)])
        for name, read in sorted(self.labelled.items()):
            samples = [(f'{{reason="{k}"}}', v) for k, v in sorted(read().items())]
            metric(f"campusguard_hub_{name}", "counter", name.replace("_", " ") + ".", samples)
        for name, gauge in sorted(self.gauges.items()):
            metric(f"campusguard_hub_{name}", "gauge", name.replace("_", " ") + ".", [("", gauge())])
        return "\n".join(lines) + "\n"
