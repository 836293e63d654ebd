"""The life of one local server: launch, readiness, status and stop.

Each server keeps everything under one folder of the stack home: ``config/``,
``data/``, ``logs/`` and the ``server.pid`` file that proves this stack started
the process running there.
"""

from __future__ import annotations

import abc
import enum
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from indexer.errors import StackError
from indexer.stack.jdk import Jdk
from indexer.stack.process import (
    PidFile,
    PidRecord,
    is_alive,
    is_listening,
    log_tail,
    port_owner,
    spawn,
    terminate,
)

PROBE_TIMEOUT_S = 2.0
PROBE_INTERVAL_S = 0.5

log = logging.getLogger(__name__)


class State(enum.StrEnum):
    RUNNING = "running"
    UNRESPONSIVE = "not answering"
    STOPPED = "stopped"
    FOREIGN = "port in use"


@dataclass(frozen=True)
class ServerStatus:
    name: str
    address: str
    state: State
    pid: int | None
    folder: Path
    detail: str = ""


class Server(abc.ABC):
    name: ClassVar[str]
    start_timeout_s: ClassVar[float]
    stop_timeout_s: ClassVar[float]

    def __init__(self, home: Path, downloads: Path, host: str, port: int) -> None:
        self.downloads = downloads
        self.host = host
        self.port = port
        self.folder = home / self.name
        self.config = self.folder / "config"
        self.data = self.folder / "data"
        self.logs = self.folder / "logs"
        self.pid_file = PidFile(self.folder / "server.pid")

    @property
    @abc.abstractmethod
    def address(self) -> str:
        """Where clients reach the server."""

    @property
    @abc.abstractmethod
    def ports(self) -> tuple[int, ...]:
        """Every port the server binds on ``host``."""

    @property
    @abc.abstractmethod
    def log_files(self) -> Sequence[Path]:
        """The logs worth showing when start-up fails."""

    @abc.abstractmethod
    def prepare(self, jdk: Jdk) -> list[str]:
        """Fetch, configure and format as needed; return the command to run."""

    @abc.abstractmethod
    def answers(self, timeout_s: float) -> bool:
        """Whether the server serves clients now."""

    def launch(self, jdk: Callable[[], Jdk]) -> bool:
        """Start the server unless this stack already runs it; True if started."""
        if self._running() is not None:
            return False

        self.pid_file.remove()
        self._refuse_foreign_ports()
        for folder in (self.config, self.data, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        command = self.prepare(jdk())

        pid = spawn(command, cwd=self.folder, output=self.logs / "stdout.log")
        self.pid_file.write(pid)
        log.info("started %s as pid %s, logs in %s", self.name, pid, self.logs)
        return True

    def wait_ready(self) -> None:
        """Return once the server answers; raise StackError with its log tail."""
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._running() is None:
                raise self._failure("exited during start-up")
            if self.answers(PROBE_TIMEOUT_S):
                log.info("%s answers on %s", self.name, self.address)
                return
            time.sleep(PROBE_INTERVAL_S)

        raise self._failure(f"did not answer within {self.start_timeout_s:.0f} s")

    def stop(self, wipe: bool = False) -> bool:
        """Stop the process this stack started, if any; True if one was stopped."""
        record = self._running()
        if record is not None:
            log.info("stopping %s (pid %s)", self.name, record.pid)
            terminate(record, self.stop_timeout_s)
        self.pid_file.remove()

        if wipe:
            log.info("deleting %s data in %s", self.name, self.data)
            shutil.rmtree(self.data, ignore_errors=True)
        return record is not None

    def status(self) -> ServerStatus:
        record = self._running()
        if record is not None:
            answers = self.answers(PROBE_TIMEOUT_S)
            state = State.RUNNING if answers else State.UNRESPONSIVE
            return self._status(state, record.pid)

        owners = self._foreign_owners()
        if owners:
            return self._status(State.FOREIGN, None, "; ".join(owners))
        return self._status(State.STOPPED, None)

    def _running(self) -> PidRecord | None:
        record = self.pid_file.read()
        return record if record is not None and is_alive(record) else None

    def _refuse_foreign_ports(self) -> None:
        owners = self._foreign_owners()
        if owners:
            raise StackError(
                f"cannot start {self.name}: {'; '.join(owners)}. This stack did "
                f"not start that process (no live pid in {self.pid_file.path}); "
                "stop it, or point the settings at free ports"
            )

    def _foreign_owners(self) -> list[str]:
        held = [port for port in self.ports if is_listening(self.host, port)]
        return [
            f"{self.host}:{port} is held by {port_owner(port) or 'an unknown process'}"
            for port in held
        ]

    def _failure(self, what: str) -> StackError:
        record = self._running()
        if record is not None:
            terminate(record, self.stop_timeout_s)
            what += f", so pid {record.pid} was stopped"
        self.pid_file.remove()
        return StackError(
            f"{self.name} {what}; its logs are in {self.logs}\n"
            + log_tail(self.log_files)
        )

    def _status(self, state: State, pid: int | None, detail: str = "") -> ServerStatus:
        return ServerStatus(
            name=self.name,
            address=self.address,
            state=state,
            pid=pid,
            folder=self.folder,
            detail=detail,
        )
