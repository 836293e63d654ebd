"""Detached server processes: pid files, liveness, stopping, ports and log tails.

A pid file records the pid and the start time the kernel gives the process, so
a recycled pid is never mistaken for a server this stack started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import StackError

PROC = Path("/proc")
POLL_S = 0.2
KILL_WAIT_S = 10.0
TAIL_BYTES = 64_000

# Field 22 of /proc/<pid>/stat, counted after the ")" that closes field 2.
_STATE_FIELD = 0
_START_FIELD = 19

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PidRecord:
    pid: int
    started: str


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> PidRecord | None:
        try:
            pid, started = self.path.read_text().split()
            return PidRecord(pid=int(pid), started=started)
        except (OSError, ValueError):
            return None

    def write(self, pid: int) -> PidRecord:
        record = PidRecord(pid=pid, started=_start_time(pid) or "unknown")
        self.path.write_text(f"{record.pid} {record.started}\n")
        return record

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def spawn(command: Sequence[str], cwd: Path, output: Path) -> int:
    """Start ``command`` in its own session, output appended to ``output``.

    ``posix_spawn`` leaves no ``Popen`` object behind to warn about a child
    that outlives this process; ``sh`` only changes directory, then execs.
    """
    append = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(output), append, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    argv = ["sh", "-c", 'cd "$0" && exec "$@"', str(cwd), *command]
    try:
        return os.posix_spawn(
            "/bin/sh", argv, os.environ, file_actions=actions, setsid=True
        )
    except OSError as exc:
        raise StackError(f"cannot start {command[0]}: {exc}") from exc


def is_alive(record: PidRecord) -> bool:
    """Whether the process of ``record`` still runs (a zombie does not)."""
    if not PROC.is_dir():
        return _signal_reaches(record.pid)

    stat = _stat(record.pid)
    if stat is None or stat[_START_FIELD] != record.started:
        return False
    if stat[_STATE_FIELD] == "Z":
        return not _reaped(record.pid)
    return True


def terminate(record: PidRecord, grace_s: float) -> None:
    """SIGTERM, then SIGKILL once ``grace_s`` has passed; returns when gone."""
    if not is_alive(record):
        return

    _send(record.pid, signal.SIGTERM)
    if _wait_gone(record, grace_s):
        return

    log.warning(
        "pid %s ignored SIGTERM for %.0f s; sending SIGKILL", record.pid, grace_s
    )
    _send(record.pid, signal.SIGKILL)
    if not _wait_gone(record, KILL_WAIT_S):
        raise StackError(f"pid {record.pid} survived SIGKILL; stop it by hand")


def is_listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str | None:
    """``pid N (command line)`` of the process listening on ``port``, if known."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None

    for fd_dir in PROC.glob("[0-9]*/fd"):
        if _links(fd_dir) & inodes:
            return _describe(int(fd_dir.parent.name))
    return None


def log_tail(paths: Sequence[Path], lines: int = 40) -> str:
    """The last ``lines`` lines of each log that has any, headed by its path."""
    parts = []
    for path in paths:
        text = _read_end(path).splitlines()[-lines:]
        if text:
            parts.append(f"--- last lines of {path} ---\n" + "\n".join(text))
    return "\n".join(parts) or "(no log output)"


def _start_time(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[_START_FIELD] if stat else None


def _stat(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reaped(pid: int) -> bool:
    """Collect a zombie child; False while its other threads still exit."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _send(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        log.debug("pid %s exited before %s", pid, signum.name)


def _wait_gone(record: PidRecord, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(record):
            return True
        time.sleep(POLL_S)
    return not is_alive(record)


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def _links(fd_dir: Path) -> set[str]:
    """Targets of a process's open files; an fd may close while being read."""
    links = set()
    try:
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                links.add(os.readlink(fd))
    except OSError:
        return set()
    return links


def _describe(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    command = " ".join(raw.decode(errors="replace").replace("\0", " ").split())
    return f"pid {pid} ({command[:200]})"


def _read_end(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return stream.read().decode(errors="replace")
    except OSError:
        return ""
