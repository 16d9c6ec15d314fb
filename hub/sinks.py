"""What happens after a commit: the sinks of ingest's pipeline.

ingest → store (one transaction: state, events, alarms, the outbox rows and the live changes) →
after the commit, every sink is told what was committed, in the order given. A sink reacts on the
event loop without blocking (it may start a task of its own) and never raises into the pipeline:
``notify`` logs a sink's error and goes on with the next, so one broken sink costs no ack and no
other sink. The sinks now: the live broadcaster (``hub.live``), the forwarder's wake-up
(``hub.forwarding.worker``), the camera snapshot fetcher (``hub.snapshots``) and, when configured,
the time-series writer (``hub.timeseries``).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.domain.state import ReceivedSnapshot
from hub.live import LiveEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Committed:
    """What one transaction committed."""

    at: datetime
    changes: tuple[LiveEvent, ...] = ()  # device, gateway and alarm changes, as the live stream has them
    alarms: tuple[dict[str, Any], ...] = ()  # alarms created or changed, as stored (``alarm_dict``)
    forwarded: int = 0  # outbox rows written for the police and other receivers
    snapshots: tuple[ReceivedSnapshot, ...] = ()  # the heartbeats taken, with every device's metrics


class Sink(Protocol):
    """Takes what was committed; called on the event loop, must neither block nor raise.

    A sink with a true ``heartbeats`` attribute is also given every heartbeat (``snapshots``); the
    others get none, and ingest then keeps none for them.
    """

    name: str

    def committed(self, commit: Committed) -> None:
        """React to one commit."""


def notify(sinks: Sequence[Sink], commit: Committed) -> None:
    """Tell every sink, in order; a sink that fails is logged and skipped."""
    for sink in sinks:
        try:
            sink.committed(commit)
        except Exception:  # a sink's bug must not cost the acks or the other sinks
            log.exception("sink %s failed on a commit at %s", sink.name, commit.at.isoformat())
