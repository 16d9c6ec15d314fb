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
