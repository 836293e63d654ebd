"""The API and the worker as background processes, recorded by pid files."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import StackError
from indexer.stack.process import (
    PidFile,
    PidRecord,
    is_alive,
    is_listening,
    log_tail,
    spawn,
    terminate,
)


@dataclass(frozen=True)
class Service:
    """One ``indexer`` subcommand run in the background, logging to a file."""

    name: str
    arguments: tuple[str, ...]
    port: int
    folder: Path

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.name}.log"

    def running(self) -> PidRecord | None:
        record = PidFile(self.folder / f"{self.name}.pid").read()
        return record if record is not None and is_alive(record) else None

    def start(self) -> bool:
        """Start unless running; True when this call started it."""
        if self.running() is not None:
            return False
        if is_listening("127.0.0.1", self.port):
            raise StackError(
                f"port {self.port} is taken by a process the demo did not start; "
                f"free it for the {self.name}"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "indexer", *self.arguments]
        pid = spawn(command, Path.cwd(), self.log_file)
        PidFile(self.folder / f"{self.name}.pid").write(pid)
        return True

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.running() is None:
                raise StackError(f"the {self.name} exited:\n{self.tail()}")
            if is_listening("127.0.0.1", self.port):
                return
            time.sleep(0.3)
        raise StackError(
            f"the {self.name} is not ready in {timeout_s}s:\n{self.tail()}"
        )

    def stop(self) -> bool:
        """Stop it if it runs; True when it did."""
        record = self.running()
        PidFile(self.folder / f"{self.name}.pid").remove()
        if record is None:
            return False
        terminate(record, grace_s=30.0)
        return True

    def tail(self) -> str:
        return log_tail([self.log_file])
