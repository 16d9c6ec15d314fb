"""Hub test fixtures: PostgreSQL 15 from Debian, and a database URL per test on either backend."""

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.servers import find_binary, free_port, wait_for_port

PG_BIN = "/usr/lib/postgresql/15/bin"


class Postgres:
    """A PostgreSQL 15 cluster in a temp dir on a free loopback port, started and stopped by pg_ctl."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.user = "postgres"
        self._prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
            pwd.getpwnam("postgres")
            self._prefix = ["runuser", "-u", "postgres", "--"]
            workdir.chmod(0o777)
            shutil.chown(workdir, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._prefix, *args], check=True, capture_output=True)

    def start(self) -> "Postgres":
        """initdb, then start and wait for the port."""
        initdb = find_binary("initdb", PG_BIN)
        pg_ctl = find_binary("pg_ctl", PG_BIN)
        self._run(initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run(pg_ctl, "-D", str(self.data), "-o", self._opts(), "-l", str(self.workdir / "pg.log"), "-w", "start")
        wait_for_port(self.port)
        return self

    def restart(self) -> None:
        """pg_ctl restart (fast): every connection is cut, the data stays."""
        log = str(self.workdir / "pg.log")
        self._run(
            find_binary("pg_ctl", PG_BIN),
            "-D",
            str(self.data),
            "-o",
            self._opts(),
            "-l",
            log,
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def _opts(self) -> str:
        return f"-p {self.port} -h 127.0.0.1 -k {self.workdir} -c fsync=off -c max_connections=100"

    def stop(self) -> None:
        """pg_ctl stop (fast)."""
        self._run(find_binary("pg_ctl", PG_BIN), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL 15 for the session; each test gets a database of its own."""
    # Not under pytest's temp dir: that one is private to root, and the server runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="campusguard-pg-"))
    server = Postgres(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on SQLite (WAL) and, in a second run, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database()
