"""Real servers for integration tests, started by PID on free loopback ports and stopped after.

Nothing here is a fake: these are the Debian packages the product runs against in production.
`make test` installs them (scripts/ensure-debian-packages.sh) before pytest starts.
"""

import os
import shutil
import signal
import subprocess
from pathlib import Path

from campusguard.net import free_port, wait_for_port

__all__ = [
    "Mosquitto",
    "RtspServer",
    "TlsFiles",
    "find_binary",
    "free_port",
    "password_file",
    "terminate",
    "wait_for_port",
]


def find_binary(name: str, *extra_dirs: str) -> str:
    """The path of a server binary; fails loudly (never skips) when it is not installed."""
    found = shutil.which(name) or next(
        (str(Path(d) / name) for d in ("/usr/sbin", "/usr/bin", *extra_dirs) if (Path(d) / name).exists()), None
    )
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make test`, which installs the Debian packages")
    return found


def terminate(proc: "subprocess.Popen[bytes] | None", grace_s: float = 10) -> None:
    """SIGTERM a server started by a test, then SIGKILL it if it is still there after ``grace_s``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl command."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca, self.cert, self.key = directory / "ca.crt", directory / "server.crt", directory / "server.key"
        openssl = find_binary("openssl")
        ca_key, csr, ext = directory / "ca.key", directory / "server.csr", directory / "san.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        steps = [
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=test-ca",
                "-keyout",
                str(ca_key),
                "-out",
                str(self.ca),
            ],
            [
                openssl,
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                str(self.key),
                "-out",
                str(csr),
            ],
            [
                openssl,
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(self.ca),
                "-CAkey",
                str(ca_key),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                str(ext),
                "-out",
                str(self.cert),
            ],
        ]
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)


def password_file(path: Path, users: dict[str, str]) -> Path:
    """A mosquitto password file, hashed by mosquitto_passwd."""
    tool = find_binary("mosquitto_passwd")
    path.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    subprocess.run([tool, "-U", str(path)], check=True, capture_output=True)
    path.chmod(0o600)
    return path


class Mosquitto:
    """A mosquitto 2 broker configured like production: persistence on, queue limits raised."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        tls: "TlsFiles | None" = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        bind: str = "127.0.0.1",
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        tls_lines = f"cafile {tls.ca}\ncertfile {tls.cert}\nkeyfile {tls.key}\n" if tls else ""
        auth = f"allow_anonymous false\npassword_file {password_file}\n" if password_file else "allow_anonymous true\n"
        auth += f"acl_file {acl_file}\n" if acl_file else ""
        self.conf.write_text(
            f"listener {self.port} {bind}\n"
            f"{tls_lines}{auth}"
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
        terminate(self.proc)
        self.proc = None

    @property
    def url(self) -> str:
        """The broker's URL for agent and hub configs."""
        return f"mqtt://127.0.0.1:{self.port}"


class RtspServer:
    """gst-rtsp-server serving test patterns over RTSP/H.264 (Debian python3-gi, system Python)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> "RtspServer":
        """Start it and wait until it serves."""
        script = Path(__file__).with_name("gst_rtsp_server.py")
        python = "/usr/bin/python3"
        if not Path(python).exists():
            raise RuntimeError("Debian's python3 with python3-gi is needed: run `make test`")
        self.proc = subprocess.Popen(
            [python, str(script), str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("gst-rtsp-server did not start: are the GStreamer packages installed?")
        wait_for_port(self.port)
        return self

    def url(self, mount: str) -> str:
        """The RTSP URL of a mount (live, black, snow, smpte)."""
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    def stop(self) -> None:
        """Stop the server."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
