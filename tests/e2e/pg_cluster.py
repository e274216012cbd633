"""A private, throw-away PostgreSQL cluster on 127.0.0.1 for the end-to-end tests.

Installs Debian's ``postgresql`` package when no server binaries are found (as root,
with apt-get), runs ``initdb`` as the ``postgres`` user under a temporary folder,
starts the server on a free loopback port, creates a database and a password user,
and stops and deletes everything on :meth:`PgCluster.stop`.

Run ``python tests/e2e/pg_cluster.py`` to start one by hand (Ctrl-C stops it).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SERVER_USER = "postgres"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_bindir() -> Path | None:
    """Return the newest PostgreSQL server bin folder installed, if any."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        if version.isdigit():
            found.append((int(version), Path(initdb).parent))
    if found:
        return max(found)[1]
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _stop_system_clusters() -> None:
    """Stop the Debian cluster(s) the package install may have started (outside a
    container, installing ``postgresql`` creates and starts ``main`` on port 5432)."""
    if shutil.which("pg_lsclusters") is None:
        return
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3] == "online":
            subprocess.run(["pg_ctlcluster", fields[0], fields[1], "stop"], check=False)


def ensure_postgres() -> Path:
    """Return the server bin folder, installing Debian's ``postgresql`` if it is missing."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found; install Debian's 'postgresql' package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
    )
    _stop_system_clusters()
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("apt-get installed postgresql but no initdb was found")
    return bindir


class PgCluster:
    """One PostgreSQL server, its database and login user, owned by the caller."""

    def __init__(
        self,
        database: str = "loop",
        user: str = "loop",
        password: str = "loop-password",
    ) -> None:
        """Prepare (not start) a cluster; call :meth:`start`."""
        self.database = database
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self.bindir: Path | None = None
        self.root: Path | None = None
        self._started = False

    # -- helpers -------------------------------------------------------------------------
    def _run_as_server_user(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        """Run a PostgreSQL binary as the ``postgres`` user when we are root."""
        assert self.bindir is not None
        cmd = [str(self.bindir / args[0]), *args[1:]]
        extra: dict[str, Any] = {}
        if os.geteuid() == 0:
            extra = {"user": SERVER_USER, "group": SERVER_USER, "extra_groups": []}
        kwargs.setdefault("check", True)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("cwd", str(self.root))
        try:
            return subprocess.run(cmd, **extra, **kwargs)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({exc.returncode}):\n{exc.stdout}\n{exc.stderr}"
            ) from exc

    @property
    def socket_dir(self) -> Path:
        """Folder of the server's Unix socket (superuser access without a password)."""
        assert self.root is not None
        return self.root / "socket"

    @property
    def sqlalchemy_url(self) -> str:
        """URL for the login user over TCP."""
        return (
            f"postgresql+psycopg://{self.user}:{self.password}"
            f"@{self.host}:{self.port}/{self.database}"
        )

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> PgCluster:
        """Install if needed, initdb, start on a free port, create the database and user."""
        self.bindir = ensure_postgres()
        self.root = Path(tempfile.mkdtemp(prefix="tap-loop-pg-"))
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            uid = pwd.getpwnam(SERVER_USER).pw_uid
            gid = pwd.getpwnam(SERVER_USER).pw_gid
            for path in (self.root, self.socket_dir):
                os.chown(path, uid, gid)
        self._run_as_server_user(
            [
                "initdb",
                "-D",
                str(self.root / "data"),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        for attempt in range(5):
            self.port = free_port()
            options = (
                f"-c listen_addresses={self.host} -p {self.port} "
                f"-c unix_socket_directories={self.socket_dir} -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off"
            )
            try:
                self._run_as_server_user(
                    [
                        "pg_ctl",
                        "start",
                        "-w",
                        "-t",
                        "60",
                        "-D",
                        str(self.root / "data"),
                        "-l",
                        str(self.root / "server.log"),
                        "-o",
                        options,
                    ]
                )
                break
            except RuntimeError:
                if attempt == 4:
                    raise RuntimeError(self.server_log()) from None
                time.sleep(0.5)
        self._started = True
        self.psql_super(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
        self.psql_super(f"CREATE DATABASE {self.database} OWNER {self.user}")
        return self

    def server_log(self) -> str:
        """The server's log so far (for failure messages)."""
        assert self.root is not None
        log = self.root / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        if self._started and self.root is not None:
            try:
                self._run_as_server_user(
                    ["pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.root / "data")]
                )
            except RuntimeError:
                pid_file = self.root / "data" / "postmaster.pid"
                if pid_file.exists():
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            self._started = False
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PgCluster:
        """Start the cluster."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the cluster."""
        self.stop()

    # -- queries ---------------------------------------------------------------------------
    def psql_super(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the Unix socket; return psql's unaligned output."""
        return self._run_as_server_user(
            [
                "psql",
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ]
        ).stdout

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run a SELECT in the test database as the login user over TCP; rows as dicts."""
        assert self.bindir is not None
        wrapped = f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({sql}) AS q"
        env = {**os.environ, "PGPASSWORD": self.password}
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                self.database,
                "-c",
                wrapped,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        return json.loads(out)


def _main() -> None:
    """Start a cluster, print its URL as JSON, stop it on SIGTERM or SIGINT."""

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with PgCluster() as cluster, contextlib.suppress(KeyboardInterrupt):
        print(json.dumps({"sqlalchemy_url": cluster.sqlalchemy_url, "port": cluster.port}))
        sys.stdout.flush()
        signal.pause()


if __name__ == "__main__":
    _main()
