"""Load on ``POST /indexing/{tenant}/reindex``: a fixed rate for a fixed time.

Open loop: request ``i`` is due at ``start + i / rate`` whether or not earlier
ones answered, and its latency counts from that moment, so a stalled server
shows up in the figures instead of slowing the load down. Loopback only.

Run it against a server whose commands topic is a throw-away one, or every
request becomes a real reindex command:

    INDEXER_TOPICS__COMMANDS=bench.commands indexer api &
    indexer clients add bench --tenant acme --scope indexing.search_manage
    python bench/api_load.py --client-id bench --client-secret ...
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import statistics
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

MAX_RATE = 1000.0
MAX_DURATION_S = 120.0
MAX_IN_FLIGHT = 1000


@dataclass
class Results:
    latencies_s: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    late_starts: int = 0

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != "204")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--token", help="a bearer token; or give the client below")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    args = parser.parse_args(argv)

    if not 0 < args.rate <= MAX_RATE or not 0 < args.duration <= MAX_DURATION_S:
        parser.error(
            f"rate is at most {MAX_RATE}/s, duration at most {MAX_DURATION_S}s"
        )
    if not _is_loopback(args.url):
        parser.error("the benchmark runs against a loopback address only")
    if args.token is None and (args.client_id is None or args.client_secret is None):
        parser.error("give --token, or --client-id and --client-secret")
    return args


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
    }
    response = await client.post("/oauth/token", data=form)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def one_request(
    client: httpx.AsyncClient,
    path: str,
    due: float,
    in_flight: asyncio.Semaphore,
    results: Results,
) -> None:
    async with in_flight:
        try:
            response = await client.post(path, json={"mode": "FULL"})
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
    results.latencies_s.append(time.perf_counter() - due)
    results.statuses[status] += 1


async def run_load(args: argparse.Namespace, client: httpx.AsyncClient) -> Results:
    results = Results()
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    path = f"/indexing/{args.tenant}/reindex"
    count = int(args.rate * args.duration)
    start = time.perf_counter()

    tasks = []
    for index in range(count):
        due = start + index / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            results.late_starts += 1
        tasks.append(
            asyncio.create_task(one_request(client, path, due, in_flight, results))
        )
    await asyncio.gather(*tasks)
    return results


def report(args: argparse.Namespace, results: Results, elapsed_s: float) -> None:
    latencies_ms = sorted(value * 1000 for value in results.latencies_s)
    centiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    print(f"target   {args.rate:.0f} req/s for {args.duration:.0f} s on {args.url}")
    print(f"sent     {len(latencies_ms)} in {elapsed_s:.1f} s")
    print(f"rate     {len(latencies_ms) / elapsed_s:.1f} req/s achieved")
    print(
        f"latency  p50 {centiles[49]:.2f} ms  p90 {centiles[89]:.2f} ms  "
        f"p99 {centiles[98]:.2f} ms  max {latencies_ms[-1]:.2f} ms"
    )
    print(f"statuses {dict(results.statuses)}")
    print(f"errors   {results.errors}")
    print(f"late     {results.late_starts} requests started over 5 ms late")


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=args.url, limits=limits, timeout=30.0, trust_env=False
    ) as client:
        token = args.token or await fetch_token(
            client, args.client_id, args.client_secret
        )
        client.headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        results = await run_load(args, client)
        elapsed = time.perf_counter() - started
    report(args, results, elapsed)
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
