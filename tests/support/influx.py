"""A real InfluxDB 1.6 (Debian's ``influxdb``), started by PID on free loopback ports and stopped after.

No InfluxDB 2.x or 3.x can be installed here (Debian ships 1.6 only, and there is no Docker); the
2.x write request is checked by a contract test instead (tests/hub/test_timeseries.py).
"""

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from campusguard.net import free_port, wait_for_port
from tests.support.servers import find_binary, terminate


class InfluxDB:
    """influxd with its data, meta and WAL in ``workdir``; HTTP on a free port, no reporting."""

    def __init__(self, workdir: Path, auth: bool = False) -> None:
        self.workdir = workdir
        self.port, self.rpc_port = free_port(), free_port()
        self.auth = auth
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "influxdb.conf"
        self.conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{workdir}/meta"\n'
            f'[data]\n  dir = "{workdir}/data"\n  wal-dir = "{workdir}/wal"\n  query-log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  auth-enabled = {str(auth).lower()}\n'
            "  log-enabled = false\n"
            '[logging]\n  level = "warn"\n'
        )

    def start(self) -> "InfluxDB":
        """Start influxd and wait until it answers /ping."""
        binary = find_binary("influxd")
        with (self.workdir / "influxd.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [binary, "run", "-config", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, timeout_s=30)
        for _ in range(100):
            try:
                if httpx.get(f"{self.url}/ping", timeout=2).status_code == 204:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"influxd exited with {self.proc.returncode}; see {self.workdir}/influxd.log")
            time.sleep(0.1)
        raise RuntimeError("influxd does not answer /ping")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        terminate(self.proc)
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, q: str, db: str = "", auth: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; the series of the first statement (an error fails the test)."""
        params = {"q": q, **({"db": db} if db else {})}
        if auth:
            params |= {"u": auth[0], "p": auth[1]}
        response = httpx.post(f"{self.url}/query", params=params, timeout=30)
        response.raise_for_status()
        result = response.json()["results"][0]
        assert "error" not in result, result["error"]
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def rows(self, q: str, db: str) -> list[dict[str, Any]]:
        """The rows of a query as dicts (tags included when grouped by them)."""
        out = []
        for s in self.query(q, db):
            for values in s["values"]:
                out.append({**s.get("tags", {}), **dict(zip(s["columns"], values, strict=True))})
        return out
