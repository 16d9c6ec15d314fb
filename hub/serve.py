"""Serving the hub's app with uvicorn inside an event loop someone else owns (demo, tests)."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the loop's owner (it would swallow Ctrl-C)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Do not install signal handlers."""
        yield


async def start_server(app: FastAPI, host: str, port: int) -> tuple[EmbeddedServer, "asyncio.Task[None]"]:
    """Start serving; return once the port accepts connections. Stop with ``server.should_exit = True``."""
    server = EmbeddedServer(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve(), name="hub:http")
    while not server.started:  # uvicorn exposes only this flag
        if task.done():
            task.result()
            raise RuntimeError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.02)
    return server, task
