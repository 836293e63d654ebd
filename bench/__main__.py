"""``python -m bench``: run the benchmark suite and write its report.

    python -m bench --plan full              # what ``make bench`` runs
    python -m bench --plan smoke             # ``make bench-smoke``
    python -m bench --plan full --only reindex,freshness
    python -m bench --plan full --code HEAD  # workers run the committed code
    python -m bench --plan full --ab BEFORE,AFTER --out DIR  # a change's effect

Loopback only: the local stack of ``indexer stack up`` (Kafka 127.0.0.1:9092,
OpenSearch 127.0.0.1:9200). Every run uses its own topics, index prefix and
app id, and deletes them when it ends. Results go to ``--out`` as
``results.json``, ``report.md`` and PNG plots.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import (
    ab,
    ceiling,
    freshness,
    reindex,
    report,
    scaleout,
    tenant_cost,
    world,
)
from bench.plan import PLANS, Plan
from indexer.settings import Settings

log = logging.getLogger("bench")

SCENARIOS = ("reindex", "freshness", "tenant_cost", "scaleout")
RESULTS = Path(__file__).parent / "results"


async def _reindex(plan: Plan, root: Path) -> dict[str, Any]:
    big = await reindex.throughput(plan, root, plan.big, None)
    best = ceiling.Loader(*_loader_fields(big["ceiling_loader"]))
    small = await reindex.throughput(plan, root, plan.small, best)
    return {"big": big, "small": small}


def _loader_fields(label: str) -> tuple[str, int, int]:
    kind, _, chunk, times = label.split()
    return kind, int(chunk), int(times.lstrip("x"))


RUNNERS: dict[str, Callable[[Plan, Path], Awaitable[dict[str, Any]]]] = {
    "reindex": _reindex,
    "freshness": freshness.run,
    "tenant_cost": tenant_cost.run,
    "scaleout": scaleout.run,
}


def _describe(ref: str) -> str:
    """``ref`` as its short hash and subject, for the report."""
    return subprocess.run(
        ["git", "log", "-1", "--format=%h %s", ref],
        cwd=Path(__file__).parents[1],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _loopback_only(settings: Settings) -> None:
    hosts = [
        urlsplit(settings.opensearch.url).hostname or "",
        *(h.rsplit(":", 1)[0] for h in settings.kafka.bootstrap_servers.split(",")),
    ]
    for host in hosts:
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"the benchmark runs against loopback only, not {host}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--plan", choices=sorted(PLANS), default="smoke")
    parser.add_argument("--only", help=f"comma-separated, of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--code", help="a git ref: workers run the indexer package committed there"
    )
    parser.add_argument(
        "--ab", help="BEFORE,AFTER git refs: compare their reindexes, nothing else"
    )
    parser.add_argument(
        "--keep-scratch", action="store_true", help="keep worker logs and files"
    )
    args = parser.parse_args(argv)
    args.scenarios = args.only.split(",") if args.only else list(SCENARIOS)
    if args.ab:
        args.refs = tuple(args.ab.split(","))
        if len(args.refs) != 2:
            parser.error("--ab takes two refs: BEFORE,AFTER")
        args.scenarios = ["ab"]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    plan = PLANS[args.plan]
    if args.no_profile:
        plan = Plan(**{**plan.__dict__, "profile": False})
    _loopback_only(Settings())
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m bench " + shlex.join(argv)
    results: dict[str, Any] = {
        "command": command,
        "plan": plan.__dict__,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
        "scenarios": {},
    }
    scratch = tempfile.mkdtemp(prefix="indexer-bench-")
    log.info("scratch folder %s", scratch)
    if args.code:
        world.worker_code = world.snapshot(args.code, Path(scratch) / "code")
        results["code"] = _describe(args.code)
    try:
        for name in args.scenarios:
            log.info("scenario %s (%s plan)", name, plan.name)
            began = time.monotonic()
            if name == "ab":
                outcome = await ab.run(plan, Path(scratch), args.refs)
                outcome["described"] = [_describe(ref) for ref in args.refs]
            else:
                outcome = await RUNNERS[name](plan, Path(scratch))
            outcome["wall_s"] = time.monotonic() - began
            outcome = report.keep_profiles(outcome, args.out, name)
            results["scenarios"][name] = outcome
            (args.out / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        if not args.keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    report.write(results, args.out)
    log.info("report written to %s", args.out / "report.md")
    return 0


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    sys.exit(asyncio.run(main(sys.argv[1:])))
