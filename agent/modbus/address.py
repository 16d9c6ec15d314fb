"""Modbus device addresses: ``tcp://host:port``, ``rtu+tcp://host:port`` and ``rtu:///dev/ttyUSB0?...``."""

from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Transport = Literal["tcp", "rtu+tcp", "rtu"]


class ModbusAddress(_Strict):
    """A parsed device address: Modbus TCP, RTU over TCP, or RTU on a serial port."""

    transport: Transport
    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    @property
    def bus(self) -> str:
        """Devices with the same bus key share one connection (and its request lock)."""
        if self.transport == "rtu":
            return f"rtu:{self.serial_port}"
        return f"{self.transport}://{self.host}:{self.port}"


def parse_address(text: str) -> ModbusAddress:
    """Parse ``tcp://host:port``, ``rtu+tcp://host:port`` or ``rtu:///dev/ttyUSB0?baudrate=9600``."""
    parts = urlsplit(text)
    if parts.scheme in ("tcp", "rtu+tcp"):
        if not parts.hostname:
            raise ValueError(f"{text!r} has no host")
        transport: Transport = "tcp" if parts.scheme == "tcp" else "rtu+tcp"
        return ModbusAddress(transport=transport, host=parts.hostname, port=parts.port or 502)
    if parts.scheme == "rtu":
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        serial = parts.path or parts.netloc
        if query.get("url"):
            serial = query.pop("url")  # a pyserial URL such as socket://127.0.0.1:5020
        if not serial:
            raise ValueError(f"{text!r} has no serial port")
        allowed = {"baudrate", "parity", "stopbits", "bytesize"}
        unknown = set(query) - allowed
        if unknown:
            raise ValueError(f"unknown serial option(s) {sorted(unknown)}")
        options: dict[str, object] = dict(query)
        for name in ("baudrate", "stopbits", "bytesize"):
            if name in options:
                try:
                    options[name] = int(query[name])
                except ValueError:
                    raise ValueError(f"serial option {name} must be a whole number") from None
        return ModbusAddress.model_validate({"transport": "rtu", "serial_port": serial, **options})
    raise ValueError(f"{text!r}: use tcp://, rtu+tcp:// or rtu:// addresses")
