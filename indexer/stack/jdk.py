"""Find a Java runtime able to run Kafka 4 and OpenSearch 2: version 17 or newer.

``java`` on ``PATH`` wins when it is new enough; otherwise the oldest suitable
JDK under ``/usr/lib/jvm`` is taken, because OpenSearch 2.x is tested on 17 and
21 and newer runtimes drop APIs it still touches.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import StackError

MIN_VERSION = 17
JVM_ROOT = Path("/usr/lib/jvm")
_VERSION = re.compile(r'version "(?:1\.)?(\d+)')

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jdk:
    java: Path
    version: int

    @property
    def javac(self) -> Path:
        return self.java.with_name("javac")


def find_jdk() -> Jdk:
    """The Java to run the servers with; raises StackError when none fits."""
    on_path = shutil.which("java")
    if on_path:
        jdk = _inspect(Path(on_path).resolve())
        if jdk is not None:
            return jdk

    installed = (_inspect(java.resolve()) for java in JVM_ROOT.glob("*/bin/java"))
    suitable = sorted(
        (jdk for jdk in installed if jdk is not None), key=lambda jdk: jdk.version
    )
    if suitable:
        return suitable[0]

    raise StackError(
        f"no Java {MIN_VERSION} or newer found on PATH or under {JVM_ROOT}; "
        f"install one, e.g. apt-get install openjdk-{MIN_VERSION}-jdk-headless"
    )


def _inspect(java: Path) -> Jdk | None:
    try:
        done = subprocess.run(
            [str(java), "-version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        log.debug("cannot run %s", java, exc_info=True)
        return None

    match = _VERSION.search(done.stderr + done.stdout)
    if match is None or int(match.group(1)) < MIN_VERSION:
        return None
    log.debug("found %s (Java %s)", java, match.group(1))
    return Jdk(java=java, version=int(match.group(1)))
