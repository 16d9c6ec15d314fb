"""Senders: one per receiver; ``deliver`` returns on the receiver's acknowledgement, raises otherwise."""

from dataclasses import dataclass
from typing import Protocol

from hub.forwarding.codes import EventCode, adm_cid_data, sia_dcs_data
from hub.forwarding.dc09 import Dc09Link, occurred, seq_for
from hub.forwarding.outbox import Outbound


@dataclass(frozen=True, slots=True)
class Delivery:
    """A receiver's acknowledgement of one message."""

    rtt_s: float
    seq: int | None = None
    detail: str | None = None


class Sender(Protocol):
    """A way to one receiver; ``deliver`` returns on its ACK and raises DeliveryError otherwise."""

    name: str

    async def deliver(self, message: Outbound) -> Delivery:
        """Send one alarm and wait for the receiver's acknowledgement."""
        ...

    async def supervise(self) -> None:
        """Keep checking the link (forever); may simply return when there is nothing to check."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class Dc09Sender:
    """Alarms as ADM-CID or SIA-DCS messages over a DC-09 link."""

    def __init__(self, name: str, link: Dc09Link) -> None:
        self.name = name
        self.link = link

    async def deliver(self, message: Outbound) -> Delivery:
        """One message, ACKed."""
        code = EventCode(message.cid, message.sia, message.sia, message.kind)
        fmt = self.link.settings.format
        build = adm_cid_data if fmt == "adm-cid" else sia_dcs_data
        data = build(message.account, code, restore=message.restore, area=message.area, zone=message.zone)
        # The same sequence number and time of occurrence on every attempt: a receiver that sees a
        # resend (its ACK was lost) can tell it from a new alarm. The frame's own timestamp is the
        # time of sending, as the receiver's time window for encrypted messages requires.
        data += occurred(message.event_at)
        seq = seq_for(message.outbox_id) if message.outbox_id > 0 else None  # a test message has no row
        exchange = await self.link.send(fmt.upper(), message.account, data, seq)
        detail = "clock corrected after a NAK" if exchange.clock_corrected else None
        return Delivery(exchange.rtt_s, exchange.seq, detail)

    async def supervise(self) -> None:
        """NULL messages while idle."""
        await self.link.supervise()

    async def close(self) -> None:
        """Close the TCP connection."""
        await self.link.close()
