"""Real servers for integration tests, started by PID on free loopback ports and stopped after.

Nothing here is a fake: these are the Debian packages the product runs against in production.
`make test` installs them (scripts/ensure-debian-packages.sh) before pytest starts.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def find_binary(name: str, *extra_dirs: str) -> str:
    """The path of a server binary; fails loudly (never skips) when it is not installed."""
    found = shutil.which(name) or next(
        (str(Path(d) / name) for d in ("/usr/sbin", "/usr/bin", *extra_dirs) if (Path(d) / name).exists()), None
    )
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make test`, which installs the Debian packages")
    return found


class Mosquitto:
    """A mosquitto 2 broker configured like production: persistence on, queue limits raised."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"{user}"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 200000\n"
            "max_inflight_messages 100\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )

    def start(self) -> "Mosquitto":
        """Start the broker and wait until it accepts connections."""
        binary = find_binary("mosquitto")
        with (self.workdir / "mosquitto.log").open("ab") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen([binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """Stop the broker (SIGTERM, so it saves its persistence file)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self) -> str:
        """The broker's URL for agent and hub configs."""
        return f"mqtt://127.0.0.1:{self.port}"
