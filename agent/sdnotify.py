"""systemd's notify protocol, spoken directly: READY, WATCHDOG and STATUS datagrams to ``$NOTIFY_SOCKET``.

No dependency: the protocol is one datagram per message on a Unix socket (an abstract one when the
path starts with ``@``). Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send one notification; return whether there was a socket to send it to."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("systemd notify failed: %s", exc)
        return False
    return True


def watchdog_period_s() -> float | None:
    """How often to feed systemd's watchdog (half its ``WatchdogSec``), or None when it is off."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) == 0 or (pid is not None and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6 / 2


async def serve_watchdog(progress: Callable[[], int], status: str, expect_progress: bool = True) -> None:
    """Tell systemd the agent is up, then feed its watchdog while ``progress()`` (finished polls) grows.

    A stuck event loop feeds nothing, and neither does an agent whose polls have all stopped for
    three periods: systemd then restarts it (``deploy/campusguard-agent.service``).
    """
    notify(f"READY=1\nSTATUS={status}")
    period = watchdog_period_s()
    if period is None:
        return
    last, idle = progress(), 0
    while True:
        await asyncio.sleep(period)
        now = progress()
        idle = 0 if now > last or not expect_progress else idle + 1
        last = now
        if idle < 3:
            notify("WATCHDOG=1")
        elif idle == 3:
            log.error("no poll finished for %.0f s: no longer feeding the systemd watchdog", 3 * period)
