"""Rendering flow templates in a process of their own, where a time limit can really stop them.

A thread cannot be stopped in the middle of Python code, let alone of one C call; a process can
be killed. So templates render in a long-lived child process (``python -m
shoptrack.flows.renderer``, loading only Jinja2 and ``flows.sandbox``), one render at a time,
reused from one email to the next. A render that outlasts ``TIME_LIMIT`` gets its process
killed, and the next render starts a new one. The child also runs under an address-space limit,
so that one filter asked for a gigabyte fails with ``MemoryError`` instead of taking the machine.

Rendering happens outside any database transaction (``flows.sending``), so a slow template costs
its own step at most ``TIME_LIMIT`` and holds no lock another account waits for.

Frames on the pipes are a 4-byte length and a payload: the parent sends ``pickle`` (the context
holds decimals and dates; the child trusts its parent), the child answers JSON (the parent does
not unpickle what a template could have influenced).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import selectors
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from shoptrack.flows.sandbox import TemplateLimitError, TemplatePart, render_parts

__all__ = ["MEMORY_LIMIT", "TIME_LIMIT", "TemplateRenderError", "TemplateRenderer"]

# How long one email's templates may take to render, all parts together.
TIME_LIMIT = 2.0
# The renderer process's address space: room for Python, Jinja2 and any sane email many times
# over, and a wall for a template that asks for gigabytes.
MEMORY_LIMIT = 512 * 1024 * 1024
# Starting the process (an interpreter, Jinja2) is not the template's time: a loaded machine may
# take seconds.
STARTUP_TIMEOUT = 60.0

_LENGTH = struct.Struct(">I")


class TemplateRenderError(Exception):
    """A template did not render: ``reason`` is ``template_error`` (it failed: a wrong filter,
    a sandbox refusal) or ``template_limit`` (it asked for too much: time, memory, output
    size, an operation's size); ``detail`` says what, for the merchant."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def _read_frame(stream: IO[bytes]) -> bytes | None:
    """A frame from a blocking stream; None at its end."""
    header = _read_exactly(stream, _LENGTH.size)
    if header is None:
        return None
    return _read_exactly(stream, _LENGTH.unpack(header)[0])


def _read_frame_by(descriptor: int, deadline: float) -> bytes:
    """A frame from a pipe, by ``deadline`` (``time.monotonic()``): ``TimeoutError`` after it,
    ``EOFError`` when the writer is gone."""
    buffer = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)

        def fill(size: int) -> None:
            while len(buffer) < size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise TimeoutError
                chunk = os.read(descriptor, 65536)
                if not chunk:
                    raise EOFError
                buffer.extend(chunk)

        fill(_LENGTH.size)
        end = _LENGTH.size + _LENGTH.unpack_from(buffer)[0]
        fill(end)
        return bytes(buffer[_LENGTH.size : end])


def _pipes(process: subprocess.Popen[bytes]) -> tuple[IO[bytes], int]:
    """The child's request stream and the descriptor of its answers."""
    if process.stdin is None or process.stdout is None:
        raise OSError("the template renderer was started without its pipes")
    return process.stdin, process.stdout.fileno()


def _stop(slot: list[subprocess.Popen[bytes] | None]) -> None:
    process, slot[0] = slot[0], None
    if process is None:
        return
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            # A request the dead process never read may still be buffered: it goes nowhere.
            with contextlib.suppress(OSError):
                stream.close()


class TemplateRenderer:
    """Renders templates in a child process, killed and replaced when a render outlasts
    ``time_limit`` seconds. Thread-safe (one render at a time); the process starts at the
    first render and ends with :meth:`close` (or when the renderer is garbage-collected)."""

    def __init__(
        self, *, time_limit: float = TIME_LIMIT, startup_timeout: float = STARTUP_TIMEOUT
    ) -> None:
        self.time_limit = time_limit
        self._startup_timeout = startup_timeout
        self._lock = threading.Lock()
        # A list, so that the finalizer shares it without keeping the renderer alive.
        self._slot: list[subprocess.Popen[bytes] | None] = [None]
        self._finalizer = weakref.finalize(self, _stop, self._slot)
        self._closing = False
        # Set while a template renders: what a watchdog (or a test) waits on.
        self.rendering = threading.Event()

    def render(self, parts: Sequence[TemplatePart], context: Mapping[str, Any]) -> dict[str, str]:
        """Every part rendered, by name; ``TemplateRenderError`` when a template fails or
        breaks a limit. ``OSError`` or ``TimeoutError`` when the process cannot be started."""
        payload = pickle.dumps((list(parts), dict(context)))
        with self._lock:
            requests, answers = _pipes(self._running())
            self.rendering.set()
            try:
                _write_frame(requests, payload)
                answer = _read_frame_by(answers, time.monotonic() + self.time_limit)
            except TimeoutError:
                _stop(self._slot)
                raise TemplateRenderError(
                    "template_limit",
                    f"the templates took longer than {self.time_limit:g} s to render",
                ) from None
            except (EOFError, OSError):
                _stop(self._slot)
                if self._closing:  # not the template's doing: it renders again later
                    raise OSError("the template renderer was closed") from None
                # The process died under it: out of memory, or killed from outside.
                raise TemplateRenderError(
                    "template_limit", "the templates stopped the renderer (memory or time)"
                ) from None
            finally:
                self.rendering.clear()
        try:
            document: dict[str, Any] = json.loads(answer)
        except ValueError as error:  # a broken renderer, not the template: started anew
            _stop(self._slot)
            raise OSError("the template renderer answered something unreadable") from error
        if "error" in document:
            raise TemplateRenderError(str(document["error"]), str(document["detail"]))
        return {str(name): str(text) for name, text in document["parts"].items()}

    @property
    def process_id(self) -> int | None:
        """The renderer process's id, None while none runs."""
        process = self._slot[0]
        return None if process is None else process.pid

    def close(self) -> None:
        """Ends the process; a render under way raises ``OSError`` (it is not the template's
        fault)."""
        self._closing = True
        process = self._slot[0]
        if process is not None:
            # Killed first: a render under way sees its pipe close and lets go of the lock.
            process.kill()
        with self._lock:
            _stop(self._slot)
            self._closing = False

    def _running(self) -> subprocess.Popen[bytes]:
        process = self._slot[0]
        if process is not None and process.poll() is None:
            return process
        _stop(self._slot)
        package_root = str(Path(__file__).resolve().parent.parent.parent)
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [package_root, environment.get("PYTHONPATH")])
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "shoptrack.flows.renderer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            close_fds=True,
        )
        self._slot[0] = process
        try:
            ready = _read_frame_by(_pipes(process)[1], time.monotonic() + self._startup_timeout)
        except (TimeoutError, EOFError) as error:
            _stop(self._slot)
            raise TimeoutError("the template renderer did not start") from error
        if json.loads(ready) != {"ready": True}:
            _stop(self._slot)
            raise TimeoutError("the template renderer did not start")
        return process


# --- the child process ------------------------------------------------------------------------


def _limit_memory() -> None:
    import resource  # noqa: PLC0415  # POSIX only, and only the child needs it

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _exit_with_parent() -> None:
    """Ends the child when its parent is gone (killed -9 in the middle of a render, when no
    one closes the pipe the child would otherwise notice)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="shoptrack-renderer-parent", daemon=True).start()


def _answer(job: bytes) -> dict[str, Any]:
    parts, context = pickle.loads(job)  # noqa: S301  # from our own parent process
    try:
        return {"parts": render_parts(parts, context)}
    except TemplateLimitError as error:
        return {"error": "template_limit", "detail": str(error)}
    except (MemoryError, RecursionError) as error:
        kind = "memory" if isinstance(error, MemoryError) else "nesting"
        return {"error": "template_limit", "detail": f"the templates need too much {kind}"}
    except Exception as error:  # noqa: BLE001  # any failure of a template is the template's
        return {"error": "template_error", "detail": f"{type(error).__name__}: {error}"}


def serve() -> None:
    """The child's loop: a job in, its answer out, until the parent closes the pipe."""
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by mistake can break a frame
    _limit_memory()
    _exit_with_parent()
    _write_frame(answers, b'{"ready": true}')
    while (job := _read_frame(requests)) is not None:
        _write_frame(answers, json.dumps(_answer(job)).encode())


if __name__ == "__main__":
    serve()
