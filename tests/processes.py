"""Running ``shoptrack`` as real processes: the CLI, ``serve`` on a free port, ``worker``.

A server's port is never chosen and then released for the child to bind (under ``-n auto``
another test, or another suite on the machine, could take it meanwhile, and its server would
answer for ours): this process binds the socket and hands it down (``serve --fd``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from shoptrack.listener import listening_socket
from shoptrack.testing import SIMULATOR_NETWORKS
from tests.conftest import TEST_SECRET_KEY


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


class Listener:
    """A socket on a free port of 127.0.0.1, bound and listening, to hand to a server."""

    def __init__(self) -> None:
        self.socket = listening_socket("127.0.0.1", 0)
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def serve_arguments(self) -> tuple[str, ...]:
        """``serve``'s arguments to serve on this socket."""
        return ("--fd", str(self.socket.fileno()))


class Process:
    """A ``shoptrack`` subprocess, its output kept in a file (a pipe could fill and block it).
    With ``listener``, the child inherits its socket, and this process lets go of its own copy
    (a dead server's port then refuses connections instead of leaving them waiting)."""

    def __init__(self, env: dict[str, str], *args: str, listener: Listener | None = None) -> None:
        # Kept open for the life of the process; stop() reads and closes it.
        self._output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "shoptrack", *args],
                env=env,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                text=True,
                pass_fds=() if listener is None else (listener.socket.fileno(),),
            )
        finally:
            if listener is not None:
                listener.socket.close()

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
    """``shoptrack serve`` on a free port, ready when constructed (``listener``: on that one,
    when its address must be known before, e.g. as the public URL)."""

    def __init__(self, env: dict[str, str], *extra: str, listener: Listener | None = None) -> None:
        listener = listener or Listener()
        self.port = listener.port
        self.url = listener.url
        super().__init__(env, "serve", *listener.serve_arguments(), *extra, listener=listener)
        deadline = time.monotonic() + 60  # a loaded machine takes a while to start Python
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


def shoptrack_for_children(directory: Path, main: str) -> str:
    """A ``shoptrack`` package in ``directory`` whose ``python -m shoptrack`` runs ``main``:
    put ``directory`` first on ``PYTHONPATH`` and the processes this one starts run it instead
    of shoptrack (this process has imported the real one already)."""
    package = directory / "shoptrack"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(main)
    return str(directory)


def wait_until(condition: object, *, timeout: float = 60) -> None:
    """Polls ``condition()`` (a callable) until it is true; real processes keep real time."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
