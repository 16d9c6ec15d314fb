"""A tiny JSON-over-HTTP/1.1 control interface on loopback, with no web framework.

``GET /devices`` lists devices; ``GET /devices/{id}`` shows one; ``POST /devices/{id}/actions/{a}``
applies an action with a JSON object body of parameters. Errors are JSON ``{"error": ...}``.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, list[str], dict[str, Any]], Awaitable[tuple[int, Any]]]
MAX_BODY = 65_536
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Too Large", 500: "Error"}


class ControlServer:
    """Serves one handler; the handler gets the method, the path parts and the JSON body."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; return the port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening."""
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(30):
                    request_line = await reader.readline()
                if not request_line:
                    break
                keep_alive = await self._one(request_line, reader, writer)
                if not keep_alive:
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _one(self, request_line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            method, target, version = request_line.decode("latin-1").split()
        except ValueError:
            await self._reply(writer, 400, {"error": "malformed request line"}, False)
            return False
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY:
            await self._reply(writer, 413, {"error": "body too large"}, False)
            return False
        body: dict[str, Any] = {}
        if length:
            raw = await reader.readexactly(length)
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError as exc:
                await self._reply(writer, 400, {"error": f"body is not JSON: {exc}"}, keep_alive)
                return keep_alive
            if not isinstance(parsed, dict):
                await self._reply(writer, 400, {"error": "body must be a JSON object"}, keep_alive)
                return keep_alive
            body = parsed
        parts = [p for p in target.split("?", 1)[0].split("/") if p]
        try:
            status, payload = await self.handler(method, parts, body)
        except Exception:  # the supervisor boundary of one request: answer 500, keep serving
            log.exception("control request %s %s failed", method, target)
            status, payload = 500, {"error": "internal error"}
        await self._reply(writer, status, payload, keep_alive)
        return keep_alive

    async def _reply(self, writer: asyncio.StreamWriter, status: int, payload: Any, keep_alive: bool) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode() + data)
        await writer.drain()
