"""Serving the hub's app with uvicorn: ``campusguard hub`` and inside an event loop someone else owns.

An open live stream (SSE) never finishes by itself, and uvicorn waits for open responses before it
runs the app's shutdown; so the hub's server ends the streams first (the consoles reconnect with
Last-Event-ID to whichever hub answers next), and gives other requests a bounded grace period.
"""

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

GRACEFUL_SHUTDOWN_S = 5


class PortTaken(RuntimeError):
    """The address to serve on is in use (or not this machine's): one line says so, not a traceback."""


def check_port(host: str, port: int) -> None:
    """PortTaken unless ``host:port`` can be bound now (port 0 always can: the system picks one)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortTaken(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (the one the system chose for port 0)."""
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return int(server.config.port)


class HubServer(uvicorn.Server):
    """A uvicorn server that ends the hub's live streams when it starts shutting down."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End the streams, then shut down as uvicorn does."""
        services = getattr(getattr(self.config.app, "state", None), "services", None)
        if services is not None:
            services.live.close()
        await super().shutdown(sockets)


class EmbeddedServer(HubServer):
    """A hub server that leaves signals to the loop's owner (it would swallow Ctrl-C)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Do not install signal handlers."""
        yield


def server_config(app: FastAPI, host: str, port: int, trusted_proxies: tuple[str, ...] = ()) -> uvicorn.Config:
    """The uvicorn configuration the hub runs with.

    Forwarded headers are believed only from ``api.trusted_proxies``: uvicorn's own default trusts
    127.0.0.1, so any local process could choose the address the login limit and audit see.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies) or None,
    )


async def start_server(
    app: FastAPI, host: str, port: int, trusted_proxies: tuple[str, ...] = ()
) -> tuple[EmbeddedServer, "asyncio.Task[None]"]:
    """Start serving; return once the port accepts connections. Stop with ``server.should_exit = True``."""
    server = EmbeddedServer(server_config(app, host, port, trusted_proxies))
    task = asyncio.create_task(server.serve(), name="hub:http")
    while not server.started:  # uvicorn exposes only this flag
        if task.done():
            task.result()
            raise RuntimeError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.02)
    return server, task
