"""Measuring a worker from outside: resident memory and sampled stacks.

Memory is polled with psutil, and the kernel's own peak (``VmHWM``) is reset
before a measured window where ``/proc/<pid>/clear_refs`` allows it, so a
short peak between two polls is not missed. Profiles are py-spy samples of
the running process, summarised into the functions that hold the most time.
"""

from __future__ import annotations

import collections
import gzip
import shutil
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

POLL_S = 0.05


def _hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class MemoryWatch:
    """Samples one process's RSS in a thread between ``start`` and ``stop``."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    hwm_reset: bool = False
    hwm_bytes: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemoryWatch:
        self.hwm_reset = _reset_hwm(self.pid)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> MemoryWatch:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        hwm = _hwm_kib(self.pid)
        self.hwm_bytes = hwm * 1024 if hwm is not None and self.hwm_reset else None
        return self

    def _poll(self) -> None:
        process = psutil.Process(self.pid)
        began = time.monotonic()
        while not self._stop.is_set():
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                return
            self.samples.append((time.monotonic() - began, rss))
            self._stop.wait(POLL_S)

    @property
    def peak_bytes(self) -> int:
        polled = max((rss for _, rss in self.samples), default=0)
        return max(polled, self.hwm_bytes or 0)

    @property
    def first_bytes(self) -> int:
        return self.samples[0][1] if self.samples else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_rss_mib": self.first_bytes / 2**20,
            "peak_rss_mib": self.peak_bytes / 2**20,
            "polled_peak_mib": max((r for _, r in self.samples), default=0) / 2**20,
            "kernel_hwm_mib": (self.hwm_bytes or 0) / 2**20,
            "samples": len(self.samples),
        }


class Profile:
    """``py-spy record`` of one process, stopped with SIGINT like Ctrl-C."""

    def __init__(self, pid: int, raw: Path, rate: int = 97) -> None:
        self.raw = raw
        spy = shutil.which("py-spy") or str(
            Path(__file__).parents[1] / ".venv/bin/py-spy"
        )
        self._process = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    def stop(self) -> Path:
        self._process.send_signal(signal.SIGINT)
        self._process.wait(timeout=60)
        packed = self.raw.with_suffix(self.raw.suffix + ".gz")
        with self.raw.open("rb") as source, gzip.open(packed, "wb") as target:
            shutil.copyfileobj(source, target)
        return packed


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``module.py:func``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Inclusive and self sample shares by function, from collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if "(" in f]
        total += count
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    share = (lambda n: round(100 * n / total, 1)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "inclusive": [(name, share(n)) for name, n in inclusive.most_common(top)],
        "self": [(name, share(n)) for name, n in own.most_common(top)],
    }


def spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and relative spread of repeated measurements."""
    if not values:
        return {"median": 0.0, "min": 0.0, "max": 0.0, "spread_pct": 0.0, "n": 0}
    median = statistics.median(values)
    return {
        "median": median,
        "min": min(values),
        "max": max(values),
        "spread_pct": 100 * (max(values) - min(values)) / median if median else 0.0,
        "n": len(values),
    }


def percentiles(values: list[float], points: tuple[int, ...]) -> dict[str, float]:
    if len(values) < 2:
        return {f"p{p}": values[0] if values else 0.0 for p in points}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {f"p{p}": cuts[p - 1] for p in points}


def stack_pids() -> dict[str, int]:
    """The processes listening on the local Kafka and OpenSearch ports."""
    ports = {9092: "kafka", 9200: "opensearch"}
    found: dict[str, int] = {}
    for connection in psutil.net_connections(kind="tcp"):
        port = connection.laddr.port if connection.laddr else None
        listening = connection.status == psutil.CONN_LISTEN
        if listening and port in ports and connection.pid is not None:
            found[ports[port]] = connection.pid
    return found


@dataclass
class CpuWatch:
    """CPU seconds each named process used over a window, and the machine load."""

    pids: dict[str, int]
    _before: dict[str, float] = field(default_factory=dict)
    _began: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)

    def start(self) -> CpuWatch:
        self._before = {name: _cpu_s(pid) for name, pid in self.pids.items()}
        self._began = time.monotonic()
        psutil.cpu_percent(None)
        return self

    def stop(self) -> CpuWatch:
        wall = time.monotonic() - self._began
        used = {
            name: _cpu_s(pid) - self._before[name] for name, pid in self.pids.items()
        }
        self.result = {
            "wall_s": wall,
            "cpu_s": used,
            "machine_busy_pct": psutil.cpu_percent(None),
            "load_1m": psutil.getloadavg()[0],
        }
        return self


def _cpu_s(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def bucket_quantiles(
    before: dict[float, float], after: dict[float, float], points: tuple[int, ...]
) -> dict[str, float]:
    """Upper bounds of quantiles of what a histogram observed between two reads.

    The answer for ``p`` is the smallest bucket bound below which at least
    ``p`` per cent of the new observations fell: a bound, not a value.
    """
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    result: dict[str, float] = {}
    for point in points:
        wanted = total * point / 100
        bound = next(
            (b for b, c in zip(bounds, counts, strict=True) if c >= wanted), 0.0
        )
        result[f"p{point}"] = bound if total else 0.0
    return result
