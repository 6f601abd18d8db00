"""A throwaway PostgreSQL server for the tests: a cluster made with initdb in a temporary folder, listening on
127.0.0.1 on a free port only, one fresh database per test, stopped and removed at the end.

As root (a CI machine, a container) the cluster belongs to the `postgres` system user: the server refuses to
run as root. Without PostgreSQL (or psycopg2) a test that needs it skips here and fails in CI (CI set), so a
CI machine that lost its database server cannot pass the database tests by skipping them.

    pytest_plugins = ["tests.postgres"]   # in the test module: its fixtures

    def test_x(postgres_url): ...   # "postgresql+psycopg2://fel@127.0.0.1:<port>/<fresh database>"
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

USER = "fel"  # the database role the tests connect as (trust authentication, 127.0.0.1 only)


def bin_dir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: Debian's /usr/lib/postgresql/<version>/bin, else the PATH."""
    def version(path):
        return [int(x) if x.isdigit() else 0 for x in Path(path).parts[4].split(".")]

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing(reason: str):
    """Skip here, fail in CI: the database tests must run there."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI: {reason} (bash install.sh --dev installs Debian's postgresql)")
    pytest.skip(f"PostgreSQL not available: {reason}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One cluster: `start()`, `url(db)`, `create_database()`, `stop()` (which also removes its folder)."""

    def __init__(self, bindir: Path):
        self.bin = bindir
        root = os.geteuid() == 0
        self.as_user = None
        if root:  # the server refuses root: the cluster is the postgres user's
            try:
                self.as_user = pwd.getpwnam("postgres")
            except KeyError:
                missing("running as root and there is no `postgres` system user to run the server")
        # as root, in /tmp: the postgres user must be able to reach it (pytest's own folders are root's alone)
        self.base = Path(tempfile.mkdtemp(prefix="fel-pg-", dir="/tmp" if root and os.path.isdir("/tmp") else None))
        if self.as_user is not None:
            os.chown(self.base, self.as_user.pw_uid, self.as_user.pw_gid)
        self.data, self.log = self.base / "data", self.base / "server.log"
        self.port = free_port()

    def _run(self, *args, check=True, timeout=120):
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        kw = {}
        if self.as_user is not None:
            kw = dict(user=self.as_user.pw_uid, group=self.as_user.pw_gid, extra_groups=[])
            env["HOME"] = self.as_user.pw_dir
        return subprocess.run([str(a) for a in args], cwd=self.base, env=env, capture_output=True, text=True,
                              check=check, timeout=timeout, **kw)

    def start(self) -> "Server":
        self._run(self.bin / "initdb", "-D", self.data, "-U", USER, "--auth=trust", "--encoding=UTF8", "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.base} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        res = self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", opts, "start",
                        check=False)
        if res.returncode != 0:
            text = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {res.stdout}{res.stderr}\n{text}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg2

        name = "t_" + uuid.uuid4().hex[:12]
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One server for the session (initdb is the slow part); skipped here, failed in CI, when it cannot run."""
    import importlib.util

    if importlib.util.find_spec("psycopg2") is None:
        missing("psycopg2 is not installed (pip install -r requirements.txt)")
    bindir = bin_dir()
    if bindir is None:
        missing("no initdb found (Debian: apt install postgresql)")
    server = Server(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database on the session's server, as a SQLAlchemy URL."""
    return postgres_server.create_database()
