"""Small helpers shared by the local service managers: ports, PID files, waiting, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

# Servers this process started: kept so they are reaped by Popen (no zombies, no warnings).
_children: dict[int, subprocess.Popen[bytes]] = {}


def stop_on_sigterm() -> None:
    """Make SIGTERM stop this process the way Ctrl-C does (``KeyboardInterrupt``), so the
    ``finally`` blocks that stop the servers it started run (a plain SIGTERM would leave
    Kafka and ClickHouse running as orphans)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class ServiceError(RuntimeError):
    """A local service could not be started or stopped; the message says why and what to do."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require_free(port: int, what: str) -> None:
    if port_in_use(port):
        raise ServiceError(
            f"port {port} on 127.0.0.1 is already taken, so {what} cannot listen there; "
            "stop whatever uses it or choose another port (see README: settings)"
        )


def pid_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn(cmd: list[str], log_file: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start ``cmd`` in its own session (a terminal's Ctrl-C does not reach it); return its PID."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    _children[proc.pid] = proc
    return proc.pid


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, pid: int | None = None
) -> None:
    """Poll ``check`` until it is true; fail early if the process ``pid`` died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid is not None and not pid_alive(pid):
            raise ServiceError(f"{what} exited during start-up")
        time.sleep(0.2)
    raise ServiceError(f"{what} was not ready after {timeout:.0f} s")


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait for a clean exit, SIGKILL only if it does not come."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class ServerFiles:
    """The PID and log files of a local server, kept in its ``data_dir`` under ``NAME``."""

    NAME: ClassVar[str]
    data_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.data_dir / f"{self.NAME}.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"{self.NAME}.log"

    def pid(self) -> int | None:
        """The running server's PID, or None when it is not running."""
        return read_pid(self.pid_file)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
