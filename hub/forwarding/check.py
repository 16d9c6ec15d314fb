"""``campusguard forward test --school ID``: a periodic test report (602 / RP) down every route.

It sends directly over each route that covers the school (primary, then the backup if the primary
does not ACK), not through the outbox, so it also works while the hub is stopped, and prints the
round trip per receiver. Exit status 0 only when every route got an ACK.
"""

import asyncio
from pathlib import Path

from contract.messages import new_event_id, utc_now
from hub.forwarding.codes import PERIODIC_TEST
from hub.forwarding.dc09 import Dc09Link
from hub.forwarding.errors import DeliveryError
from hub.forwarding.outbox import Outbound
from hub.forwarding.sender import Dc09Sender, Sender
from hub.forwarding.settings import Dc09Receiver, ForwardingSettings
from hub.forwarding.webhook import WebhookSender
from hub.settings import load_settings


def _describe(settings: ForwardingSettings, name: str) -> str:
    receiver = settings.receivers[name]
    if isinstance(receiver, Dc09Receiver):
        cipher = f"AES-{len(receiver.key_bytes() or b'') * 8}" if receiver.key_bytes() else "plain"
        return f"{name} (DC-09 {receiver.format.upper()} {cipher}, {receiver.host}:{receiver.port})"
    return f"{name} (webhook {receiver.url})"


def _sender(settings: ForwardingSettings, name: str) -> Sender:
    receiver = settings.receivers[name]
    if isinstance(receiver, Dc09Receiver):
        return Dc09Sender(name, Dc09Link(name, receiver))
    return WebhookSender(name, receiver)


async def forward_test(settings: ForwardingSettings, school_id: str, out: list[str]) -> bool:
    """Send one periodic test per route covering the school; append report lines; True if all ACKed."""
    school = settings.schools.get(school_id)
    if school is None:
        out.append(f"school {school_id!r} has no account in forwarding.schools")
        return False
    routes = settings.routes_for(school_id, "panic")  # every route that carries this school's alarms
    if not routes:
        out.append(f"no forwarding route covers school {school_id!r}")
        return False
    all_ok = True
    for route in routes:
        message = Outbound(
            0, new_event_id(), route.name, "periodic_test", False, school_id, None, school.account,
            school.area, 0, PERIODIC_TEST.cid, PERIODIC_TEST.sia_new, utc_now(),
        )  # fmt: skip
        ok = False
        for name in route.receivers:
            sender = _sender(settings, name)
            try:
                delivery = await sender.deliver(message)
            except DeliveryError as exc:
                out.append(f"route {route.name}: {_describe(settings, name)}: FAILED {exc.result}: {exc}")
                continue
            finally:
                await sender.close()
            seq = f" seq {delivery.seq:04d}" if delivery.seq else ""
            out.append(
                f"route {route.name}: {_describe(settings, name)}: ACK{seq} in {delivery.rtt_s * 1000:.1f} ms "
                f"(account {school.account}, 602/RP)"
            )
            ok = True
            break
        all_ok &= ok
    return all_ok


def run_forward_test(config_path: Path, school_id: str) -> int:
    """The CLI entry: load hub.yaml, test every route of the school, print a line per receiver tried."""
    settings = load_settings(config_path).forwarding
    lines: list[str] = []
    ok = asyncio.run(forward_test(settings, school_id, lines))
    for line in lines:
        print(line)
    return 0 if ok else 1
