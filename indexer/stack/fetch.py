"""Fetch server jars with Maven and compile the small Java launchers, once.

Each result lands in a folder named after its version (or its source digest)
under the downloads folder. Work happens in a ``.partial`` sibling that is
renamed when complete, so an interrupted run leaves nothing half-made behind.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from indexer.errors import StackError
from indexer.stack.jdk import MIN_VERSION, Jdk

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAVEN_TIMEOUT_S = 1200
JAVAC_TIMEOUT_S = 300
OUTPUT_TAIL = 40

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Artifact:
    group: str
    name: str
    version: str

    def xml(self) -> str:
        return (
            f"<dependency><groupId>{escape(self.group)}</groupId>"
            f"<artifactId>{escape(self.name)}</artifactId>"
            f"<version>{escape(self.version)}</version></dependency>"
        )


def fetch_jars(folder: Path, artifacts: Sequence[Artifact]) -> Path:
    """``folder/lib`` holding the artifacts and all their runtime dependencies.

    The folder is reused while the ``pom.xml`` kept in it lists the same
    artifacts, so a changed dependency is fetched anew.
    """
    lib = folder / "lib"
    pom = _pom(folder.name, artifacts)
    if lib.is_dir() and _read(folder / "pom.xml") == pom:
        return lib

    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) is not on PATH; install it to fetch servers")

    started = time.monotonic()
    log.info("fetching %s into %s (first run only)", folder.name, folder)
    partial = _fresh_partial(folder)
    (partial / "pom.xml").write_text(pom)
    _run(
        [
            mvn,
            "-q",
            "-B",
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DoutputDirectory=lib",
        ],
        cwd=partial,
        timeout=MAVEN_TIMEOUT_S,
        what=f"fetching {folder.name} with Maven",
    )

    _publish(partial, folder)
    log.info("fetched %s in %.0f s", folder.name, time.monotonic() - started)
    return lib


def compile_java(jdk: Jdk, source: str, name: str, lib: Path) -> Path:
    """The classes folder of the Java class ``name`` made from ``source``."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    folder = lib.parent / f"classes-{name}-{digest}"
    classes = folder / "classes"
    if classes.is_dir():
        return classes

    if not jdk.javac.exists():
        raise StackError(f"{jdk.java} has no javac beside it; install a full JDK")

    partial = _fresh_partial(folder)
    (partial / f"{name}.java").write_text(source)
    _run(
        [
            str(jdk.javac),
            "--release",
            str(MIN_VERSION),
            "-nowarn",
            "-d",
            "classes",
            "-cp",
            str(lib / "*"),
            f"{name}.java",
        ],
        cwd=partial,
        timeout=JAVAC_TIMEOUT_S,
        what=f"compiling {name}.java",
    )

    _publish(partial, folder)
    return classes


def _pom(name: str, artifacts: Sequence[Artifact]) -> str:
    dependencies = "\n    ".join(artifact.xml() for artifact in artifacts)
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>indexer.stack</groupId>
  <artifactId>{escape(name)}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    {dependencies}
  </dependencies>
</project>
"""


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _fresh_partial(folder: Path) -> Path:
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def _publish(partial: Path, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def _run(command: list[str], cwd: Path, timeout: float, what: str) -> None:
    try:
        done = subprocess.run(
            command,
            check=False,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what} took longer than {timeout:.0f} s") from exc
    except OSError as exc:
        raise StackError(f"{what} could not start: {exc}") from exc

    if done.returncode != 0:
        output = (done.stdout + done.stderr).splitlines()[-OUTPUT_TAIL:]
        raise StackError(
            f"{what} failed with exit code {done.returncode} in {cwd}:\n"
            + "\n".join(output)
        )
