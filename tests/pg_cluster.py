"""A PostgreSQL cluster of a test's own, to stop and start under a running shoptrack.

``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``, a data directory in a temporary
directory of its own, and no TCP port: the cluster listens on a Unix socket in that directory
only, so nothing else can take its address while it is stopped (a port could be taken, even by
another test's cluster, which shoptrack would then reach instead). PostgreSQL refuses to run as
root, so as root (CI) every command runs as the ``postgres`` user through ``runuser``, and the
directory is that user's.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

__all__ = ["Cluster", "cluster_binaries", "running_cluster"]


def cluster_binaries() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory with ``initdb``, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return found[-1].parent if found else None


class Cluster:
    """One cluster: ``start()``, ``stop()``, ``start()`` again at the same address and data."""

    def __init__(self, binaries: Path, root: Path) -> None:
        self.binaries = binaries
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=check, cwd=self.root
        )

    def init(self) -> None:
        # No fsync: the test crashes shoptrack and stops PostgreSQL, never the machine.
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        """Starts the cluster and waits until it takes connections."""
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.root} -c fsync=off "
            "-c max_connections=100"
        )
        started = self._run(
            "pg_ctl", "start", "-w", "-t", "120", "-D", str(self.data), "-l", str(self.log),
            "-o", options, check=False,
        )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self, mode: str = "fast") -> None:
        """Stops the cluster: ``fast`` ends every session (an operator's restart),
        ``immediate`` is a crash."""
        self._run("pg_ctl", "stop", "-w", "-t", "120", "-D", str(self.data), "-m", mode)

    def url(self, database: str = "postgres") -> str:
        """A URL of the cluster's Unix socket (libpq's ``host`` is its directory)."""
        return f"postgresql://postgres@/{database}?host={self.root}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        """Stops the cluster if it runs, and removes its files."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", "immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(binaries: Path) -> Iterator[Cluster]:
    """A fresh cluster, started; stopped and removed however the block ends."""
    root = Path(tempfile.mkdtemp(prefix="shoptrack-pg-"))
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
    cluster = Cluster(binaries, root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()
