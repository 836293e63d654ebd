"""The report of one run: a Markdown page of tables and the PNG plots it shows.

Every table and figure names the command that produced it.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def keep_profiles(outcome: Any, out: Path, scenario: str) -> Any:
    """Copy profiles out of the scratch folder; paths become relative to ``out``."""
    if isinstance(outcome, dict):
        kept = {k: keep_profiles(v, out, scenario) for k, v in outcome.items()}
        raw = kept.get("raw")
        if isinstance(raw, str) and Path(raw).exists():
            target = out / Path(raw).name
            shutil.copyfile(raw, target)
            kept["raw"] = target.name
        return kept
    if isinstance(outcome, list):
        return [keep_profiles(v, out, scenario) for v in outcome]
    return outcome


def _f(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _spread(s: dict[str, float], digits: int = 0) -> str:
    return (
        f"{_f(s['median'], digits)} ({_f(s['min'], digits)} to "
        f"{_f(s['max'], digits)}, n={s['n']})"
    )


def write(results: dict[str, Any], out: Path) -> None:
    scenarios = results["scenarios"]
    lines = [
        "# Benchmark report",
        "",
        f"Produced by `{results['command']}` (from the repository root; "
        f"`make bench` runs `--plan full`), {results['started']} to "
        f"{results.get('finished', '?')}, Python {results['python']}, "
        f"{results['cpus']} CPUs shared with Kafka, OpenSearch and other "
        "engineers' runs. Figures are medians with (min to max, n) of repeats.",
        f"Changelogs have {results['plan']['partitions']} partitions and spread "
        f"{results['plan']['spread']} where a section does not say otherwise.",
        "",
    ]
    if "code" in results:
        lines += [f"Workers ran the indexer package of commit {results['code']}.", ""]
    for name, section in (
        ("reindex", _reindex),
        ("freshness", _freshness),
        ("tenant_cost", _tenant_cost),
        ("scaleout", _scaleout),
        ("ab", _ab),
    ):
        if name in scenarios:
            lines += section(scenarios[name], results["command"], out)
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _reindex(data: dict[str, Any], command: str, out: Path) -> list[str]:
    lines = ["## (1) FULL reindex throughput vs the bulk-load ceiling", ""]
    lines += [
        "| tenant | reindex docs/s | ceiling docs/s | ratio | ceiling loader |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key in ("big", "small"):
        part = data[key]
        lines.append(
            f"| {part['documents']:,} | {_spread(part['reindex_docs_per_s'])} | "
            f"{_spread(part['ceiling_docs_per_s'])} | {_spread(part['ratio'], 2)} | "
            f"{part['ceiling_loader']} |"
        )
    lines += ["", *_phases(data), ""]
    _plot_reindex(data, command, out / "reindex.png")
    lines += [f"![reindex vs ceiling](reindex.png) (`{command}`)", ""]
    lines += _memory(data, command, out)
    return lines


def _phases(data: dict[str, Any]) -> list[str]:
    """Medians of the phases read from the worker's log lines."""
    lines = [
        "Where a reindex's time goes (medians, seconds; from the worker's log):",
        "",
        "| tenant | request to build start | rewind (all partitions) | "
        "verify, swap, event | total |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key in ("small", "big"):
        part = data[key]
        phases = [r["phases"] for r in part["runs"] if r.get("phases")]
        if not phases:
            continue
        cells = [
            _f(statistics.median(p[name] for p in phases), 2)
            for name in ("command_s", "rewind_s", "finish_s")
        ]
        total = _f(statistics.median(r["elapsed_s"] for r in part["runs"]), 2)
        lines.append(f"| {part['documents']:,} | {' | '.join(cells)} | {total} |")
    return lines


def _memory(data: dict[str, Any], command: str, out: Path) -> list[str]:
    lines = ["## (4) Worker memory during the reindex", ""]
    lines += [
        "| tenant | RSS at start MiB | peak RSS MiB | growth MiB |",
        "| --- | --- | --- | --- |",
    ]
    for key in ("small", "big"):
        part = data[key]
        start, peak = part["start_rss_mib"], part["peak_rss_mib"]
        lines.append(
            f"| {part['documents']:,} | {_spread(start)} | {_spread(peak)} | "
            f"{_f(peak['median'] - start['median'])} |"
        )
    lines.append("")
    _plot_memory(data, command, out / "memory.png")
    lines += [f"![worker RSS](memory.png) (`{command}`)", ""]
    return lines


def _warmup(warmup: dict[str, Any] | None) -> list[str]:
    if not warmup:
        return []
    return [
        f"Before the measured runs, {warmup['duration_s']:g} s of changes at "
        f"{warmup['rate']}/s warm the servers up, not counted (p99 then: "
        f"{warmup['p99']:.3f} s)."
    ]


def _freshness(data: dict[str, Any], command: str, out: Path) -> list[str]:
    lines = [
        "## (2) Freshness: produced to searchable",
        "",
        f"Refresh interval of the live index: {data['refresh_interval']}; "
        f"poll every {data['poll_s'] * 1000:.0f} ms (latencies are upper bounds).",
        *_warmup(data.get("warmup")),
        "",
        "| rate/s | achieved | sent | seen | superseded | unseen | p50 s | p95 s |"
        " p99 s | max s | written p50/p95/p99 ≤ s | refresh mean ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in data["runs"]:
        written = run.get("written_le") or {}
        bounds = "/".join(f"{written.get(p, 0.0):g}" for p in ("p50", "p95", "p99"))
        lines.append(
            f"| {run['rate']} | {_f(run['achieved_rate'])} | {run['sent']} | "
            f"{run['seen']} | {run['superseded']} | {run['unseen']} | "
            f"{run['p50']:.3f} | {run['p95']:.3f} | {run['p99']:.3f} | "
            f"{run['max']:.3f} | {bounds} | {run.get('refresh_mean_ms', 0.0):.0f} |"
        )
    lines += [
        "",
        "*Written* is the worker's own histogram "
        "(`indexer_change_delay_seconds`): from a change's Kafka timestamp to "
        "OpenSearch acknowledging its live write, as bucket bounds. The rest of "
        "the way to searchable is the wait for the next refresh, and the refresh "
        "itself: OpenSearch starts the next one an interval after the last one "
        "ended, so a change can wait the interval plus two refreshes.",
        "",
    ]
    _plot_freshness(data, command, out / "freshness.png")
    lines += [f"![freshness](freshness.png) (`{command}`)", ""]
    return lines


def _tenant_cost(data: dict[str, Any], command: str, out: Path) -> list[str]:
    lines = [
        "## (3) Cost per tenant",
        "",
        f"Reindex of a tenant of {data['tenant_documents']:,} products, on a "
        f"changelog holding only it (*alone*) and on one that also holds "
        f"{data['other_documents']:,} products of other tenants (*crowded*); "
        f"each tenant on {data['spread']} home partitions. *Read* is what the "
        "crowded rewinds read: the records on the small tenant's homes.",
        "",
        "| partitions | alone s | crowded s | ratio | read |",
        "| --- | --- | --- | --- | --- |",
    ]
    for layout in data.get("layouts", []):
        lines.append(
            f"| {layout['partitions']} | {_spread(layout['alone_s'], 2)} | "
            f"{_spread(layout['crowded_s'], 2)} | {_spread(layout['ratio'], 2)} | "
            f"{layout['read']:,} |"
        )
    return [*lines, "", f"(`{command}`)", ""]


def _scaleout(data: dict[str, Any], command: str, out: Path) -> list[str]:
    lines = [
        "## (5) Scale-out",
        "",
        f"{data['documents']:,} products on {data['partitions']} partitions.",
        "",
        "| workers | reindex docs/s | partitions owned | all documents there |",
        "| --- | --- | --- | --- |",
    ]
    for workers in (1, 2):
        part = data[f"workers_{workers}"]
        lines.append(
            f"| {workers} | {_spread(part['docs_per_s'])} | {part['owned']} | "
            f"{'yes' if part['correct'] else 'NO'} |"
        )
    return [*lines, "", f"(`{command}`)", ""]


def _titled(axes: Any, title: str, command: str) -> None:
    axes.set_title(f"{title}\n`{command}`", fontsize=9)


def _plot_reindex(data: dict[str, Any], command: str, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    for offset, key in enumerate(("small", "big")):
        part = data[key]
        reindexes = [r["docs_per_s"] for r in part["runs"]]
        ceilings = [c["docs_per_s"] for c in part["ceiling"]]
        axes.scatter([offset - 0.1] * len(reindexes), reindexes, color="C0")
        axes.scatter([offset + 0.1] * len(ceilings), ceilings, color="C1")
    axes.scatter([], [], color="C0", label="reindex (requested to completed)")
    axes.scatter([], [], color="C1", label="ceiling (bulk load from file)")
    axes.set_xticks(
        [0, 1], [f"{data[k]['documents']:,} docs" for k in ("small", "big")]
    )
    axes.set_ylabel("documents/s")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    _titled(axes, "FULL reindex vs ceiling, each repeat", command)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_memory(data: dict[str, Any], command: str, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    for color, key in (("C2", "small"), ("C3", "big")):
        for number, run in enumerate(data[key]["runs"]):
            times = [t for t, _ in run["rss_timeline"]]
            rss = [m for _, m in run["rss_timeline"]]
            label = f"{data[key]['documents']:,} docs" if number == 0 else None
            axes.plot(times, rss, color=color, alpha=0.7, label=label)
    axes.set_xlabel("seconds since the reindex was requested")
    axes.set_ylabel("worker RSS MiB")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    _titled(axes, "Worker RSS during each reindex", command)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_freshness(data: dict[str, Any], command: str, path: Path) -> None:
    figure, (cdf, series) = plt.subplots(1, 2, figsize=(11, 4))
    for number, run in enumerate(data["runs"]):
        latencies = sorted(latency for _, latency in run["series"])
        if not latencies:
            continue
        shares = [(i + 1) / len(latencies) for i in range(len(latencies))]
        label = f"{run['rate']}/s run {number}"
        cdf.plot(latencies, shares, label=label)
        series.scatter(
            [t for t, _ in run["series"]],
            [latency for _, latency in run["series"]],
            s=2,
            label=label,
        )
    cdf.set_xlabel("seconds from produced to searchable")
    cdf.set_ylabel("share of changes")
    cdf.legend(fontsize=8)
    series.set_xlabel("seconds since the first change")
    series.set_ylabel("latency s")
    _titled(cdf, f"Freshness CDF (refresh {data['refresh_interval']})", command)
    _titled(series, "Latency over the run", command)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _ab(data: dict[str, Any], command: str, out: Path) -> list[str]:
    lines = [
        f"## Before/after: reindex of {data['documents']:,} products",
        "",
        "| code | reindex docs/s | worker CPU s per reindex | OpenSearch CPU s |",
        "| --- | --- | --- | --- |",
    ]
    for ref, described in zip(data["refs"], data["described"], strict=True):
        lines.append(
            f"| {described} | {_spread(data['docs_per_s'][ref])} | "
            f"{_spread(data['worker_cpu_s'][ref], 1)} | "
            f"{_spread(data['opensearch_cpu_s'][ref], 1)} |"
        )
    return [*lines, "", f"(`{command}`)", ""]
