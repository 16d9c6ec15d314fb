"""The offline-alarm policy: which availability changes raise or clear the hub's offline alarms.

Pure: it reads changes and the set of offline alarms already open, and says what to raise or clear.

The rules:
- A device that goes offline raises ``device_offline``; a gateway that goes offline raises
  ``gateway_offline`` (its devices do not each raise one: the gateway's alarm stands for them, and a
  guard is not paged 50 times for one dead switch).
- A subject that comes back (any availability other than offline, after offline) clears its alarm,
  if one is open and active; a recovery with no open alarm calls for nothing.
- A device shown offline only because its gateway is (reason ``gateway_offline``) neither raises nor
  clears: its own alarm, if it had one, stays until the device itself comes back.
- ``unknown`` is not offline: a device nobody has heard from yet raises nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hub.domain.alarms import HubKind
from hub.domain.state import GATEWAY_OFFLINE, Change

OFFLINE = "offline"
OFFLINE_KINDS = (HubKind.DEVICE_OFFLINE, HubKind.GATEWAY_OFFLINE)


@dataclass(frozen=True)
class OfflineCall:
    """Raise (``active``) or clear one hub-made offline alarm."""

    school_id: str
    gateway_id: str
    device_id: str | None
    kind: HubKind
    active: bool
    at: datetime

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.school_id, self.device_id, str(self.kind))


def offline_kind(device_id: str | None) -> HubKind:
    """The offline alarm of a device, or of a gateway (no device)."""
    return HubKind.GATEWAY_OFFLINE if device_id is None else HubKind.DEVICE_OFFLINE


def concerns_offline(change: Change) -> bool:
    """Whether the change may raise or clear an offline alarm (to look up open ones only for these)."""
    return change.reason != GATEWAY_OFFLINE and OFFLINE in (change.availability, change.previous)


def offline_calls(changes: Iterable[Change], open_alarms: set[tuple[str, str | None, str]]) -> list[OfflineCall]:
    """What the changes call for, in order; ``open_alarms`` holds (school, device, kind) of active ones.

    Applying the calls in order keeps ``open_alarms`` true: a raise adds its key, a clear removes it.
    """
    opened = set(open_alarms)
    calls: list[OfflineCall] = []
    for change in changes:
        if not concerns_offline(change):
            continue
        going_offline = change.availability == OFFLINE
        call = OfflineCall(
            school_id=change.school_id,
            gateway_id=change.gateway_id,
            device_id=change.device_id,
            kind=offline_kind(change.device_id),
            active=going_offline,
            at=change.at,
        )
        if going_offline:
            opened.add(call.key)
        elif call.key in opened:
            opened.discard(call.key)
        else:
            continue
        calls.append(call)
    return calls
