"""Running ``shoptrack`` as real processes: the CLI, ``serve`` on a free port, ``worker``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET_KEY
from tests.helpers import SIMULATOR_NETWORKS


def environment(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPTRACK_")}
    env |= {
        "SHOPTRACK_DATABASE_URL": database_url,
        "SHOPTRACK_DATA_DIR": str(data_dir),
        "SHOPTRACK_SECRET_KEY": TEST_SECRET_KEY,
        "SHOPTRACK_PRIVATE_STORE_NETWORKS": SIMULATOR_NETWORKS,
        "COLUMNS": "200",  # Rich wraps at the terminal width; keep lines whole for the asserts
    }
    return env


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shoptrack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    """A ``shoptrack`` subprocess, its output kept in a file (a pipe could fill and block it)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        # Kept open for the life of the process; stop() reads and closes it.
        self._output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shoptrack", *args],
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        """What the process printed so far."""
        self._output.flush()
        self._output.seek(0)
        text = self._output.read()
        self._output.seek(0, os.SEEK_END)
        return text

    def stop(self) -> str:
        """Stops the process (if it still runs) and returns what it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._output.closed:
            return ""
        self._output.seek(0)
        output = self._output.read()
        self._output.close()
        return output


class Server(Process):
    """``shoptrack serve`` on a free port, ready when constructed."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        self.port = free_port()
        super().__init__(env, "serve", "--port", str(self.port), *extra)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.stop()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {self.stop()}")
            time.sleep(0.05)


def wait_until(condition: object, *, timeout: float = 60) -> None:
    """Polls ``condition()`` (a callable) until it is true; real processes keep real time."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
