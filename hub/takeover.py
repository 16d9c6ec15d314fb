"""A hub taking over gateways from another, or handing them on (``hub.partitions``).

Taken over, a gateway's state is loaded from the database as the last hub left it (availability,
reason, since, the shared last-seen), and the gateway is asked for a rebirth, so its inventory and
its devices' states are fresh within one round trip; until its birth arrives, its events are stored
as they come (``HubState.check_member``). Handed on, its liveness and metrics are dropped here, so
this hub neither judges it nor shows stale numbers for it.
"""

import asyncio
import logging
import time

from hub.ingest import Ingest
from hub.partitions import Moves, Partitions
from hub.store import Store

log = logging.getLogger(__name__)


class Takeover:
    """Applies each partition check's moves to ingest's state."""

    def __init__(self, partitions: Partitions, ingest: Ingest, store: Store) -> None:
        self.partitions, self.ingest, self.store = partitions, ingest, store
        self.last_s: float | None = None  # how long the last takeover took (load and rebirths)
        self.gateways_taken = 0

    async def apply(self, moves: Moves) -> None:
        """Forget what was lost, load and begin applying what was gained."""
        state, partitions = self.ingest.state, self.partitions
        if moves.lost:
            state.forget(partitions.owns)
            log.info("handed on %d gateway partitions; holding %d", len(moves.lost), len(partitions.owned))
        if not moves.gained:
            return
        began = time.monotonic()
        gained = moves.gained
        gateways, devices = await asyncio.to_thread(
            self.store.load_held, lambda school, gateway: partitions.partition(school, gateway) in gained
        )
        held = {(g.school_id, g.id) for g in gateways}
        for alarm in await asyncio.to_thread(self.store.load_active_alarms):  # what reconciliation compares
            if (alarm["school_id"], alarm["gateway_id"]) in held:
                self.ingest.active_alarms.note(alarm)
        now = self.ingest.now()
        state.adopt(gateways, devices, now)
        await partitions.adopted(gained)
        for gw in gateways:
            if gw.availability != "offline":  # one that is offline sends its birth when it is back
                await self.ingest.rebirth(gw.school_id, gw.id, now)  # a broker that holds it up delays no check
        self.gateways_taken += len(gateways)
        self.last_s = time.monotonic() - began
        log.info(
            "took over %d gateway partitions (%d gateways, %d devices) in %.2f s; holding %d",
            len(gained), len(gateways), len(devices), self.last_s, len(partitions.owned),
        )  # fmt: skip
