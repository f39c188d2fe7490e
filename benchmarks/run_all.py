"""Run every benchmark scenario, Sessionary beside Agno 3.1.10, and write the report.

    nox -s bench                      # the environment with Agno, then this script
    python benchmarks/run_all.py      # in an environment that has sessionary and agno
    python benchmarks/run_all.py --quick   # smaller sessions: checks the pipeline, not numbers

Writes ``benchmarks/results.md`` (every scenario's tables, with the command and the
machine) and ``benchmarks/cost_per_run.png`` (cost of one ``Agent.run`` against the
session's length, per store, ours beside Agno's), and the same two into the documentation
site (``docs/benchmarks.md``, ``docs/assets/cost_per_run.png``). The per-scenario numbers
stay in ``benchmarks/out/*.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import OUT, machine

HERE = Path(__file__).parent
RESULTS = HERE / "results.md"
CHART = HERE / "cost_per_run.png"
#: The documentation site shows the same report and chart.
DOCS_PAGE = HERE.parent / "docs" / "benchmarks.md"
DOCS_CHART = HERE.parent / "docs" / "assets" / "cost_per_run.png"

#: (title, script, full-run arguments, quick-run arguments)
SCENARIOS: list[tuple[str, str, list[str], list[str]]] = [
    ("Core overhead (import, Agent.run on memory://)", "bench_core.py", [], []),
    ("SQLite", "bench_sqlite.py", ["--agno-runs", "2000"], ["--quick"]),
    ("Redis", "bench_redis.py", [], ["--quick"]),
    ("PostgreSQL", "bench_postgres.py", [], ["--quick"]),
    (
        "MongoDB (mongomock: operations and documents, not time)",
        "bench_mongodb.py",
        [],
        ["--quick"],
    ),
    ("Session caching", "bench_caching.py", [], ["--runs", "100"]),
    ("Batch naming", "bench_autoname.py", [], ["--sessions", "50", "--concurrency", "1,8"]),
    ("Human in the loop", "bench_hitl.py", [], []),
    ("Model providers (official SDKs on a local server)", "bench_providers.py", [], []),
    ("Async: 100 concurrent sessions on Redis", "bench_async.py", [], ["--quick"]),
    ("OpenAI Agents SDK sessions", "bench_openai_agents.py", [], ["--quick"]),
    ("The inbox at 100,000 sessions (SQLite)", "bench_inbox.py", [], ["--sessions", "5000"]),
]


def run_scenario(script: str, args: list[str]) -> tuple[int, str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout if done.returncode == 0 else done.stdout + "\n" + done.stderr
    return done.returncode, output.strip(), time.perf_counter() - started


def _median_ms(stats: Any) -> float | None:
    if isinstance(stats, dict) and isinstance(stats.get("median"), (int, float)):
        return float(stats["median"]) * 1000
    return None


def chart_points() -> dict[str, list[tuple[int, float]]]:
    """Cost per run (ms) against session length, by series, from the scenarios' JSON."""
    series: dict[str, list[tuple[int, float]]] = {}
    sqlite = OUT / "sqlite.json"
    if sqlite.exists():
        data = json.loads(sqlite.read_text())
        for key, label in (("full", "Sessionary SqliteDb"), ("agno", "Agno SqliteDb")):
            costs = data.get(key, {}).get("costs", {})
            found: list[tuple[int, float]] = []
            for n, stats in costs.items():
                value = _median_ms(stats)
                if str(n).isdigit() and value is not None:
                    found.append((int(n), value))
            series[label] = sorted(found)
    redis = OUT / "bench_redis.json"
    if redis.exists():
        data = json.loads(redis.read_text())
        for prefix, label in (("ours", "Sessionary RedisDb"), ("agno", "Agno RedisDb")):
            points = []
            for key, value in data.items():
                if key.startswith(f"{prefix}_run_") and key.endswith("_ms"):
                    number = key[len(prefix) + 5 : -3]
                    if number.isdigit() and isinstance(value, (int, float)):
                        points.append((int(number), float(value)))
            if points:
                series[label] = sorted(points)
    return {label: points for label, points in series.items() if points}


def draw_chart(series: dict[str, list[tuple[int, float]]]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 5))
    for label, points in series.items():
        style = "--" if label.startswith("Agno") else "-"
        axes.plot([n for n, _ in points], [v for _, v in points], style, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("run number in the session")
    axes.set_ylabel("cost of one Agent.run (ms, median)")
    axes.set_title("Cost per run as a session grows (instant model)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(CHART, dpi=120)
    return True


def previous_sections() -> dict[str, str]:
    """The scenario sections of the existing report, by title (for ``--only``)."""
    if not RESULTS.exists():
        return {}
    sections: dict[str, str] = {}
    title: str | None = None
    body: list[str] = []
    for line in RESULTS.read_text().splitlines():
        if line.startswith("## "):
            if title is not None:
                sections[title] = "\n".join(body)
            title, body = line[3:].strip(), []
        elif title is not None:
            body.append(line)
    if title is not None:
        sections[title] = "\n".join(body)
    return sections


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sessions, not the numbers")
    parser.add_argument(
        "--only",
        help="comma-separated scripts to run (default: all); the other scenarios' sections "
        "are kept from the existing report",
    )
    options = parser.parse_args()
    chosen = set(options.only.split(",")) if options.only else None
    try:
        import importlib.metadata

        agno = importlib.metadata.version("agno")
    except importlib.metadata.PackageNotFoundError:
        agno = "not installed: Agno's columns are missing"
    lines = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run_all.py{' --quick' if options.quick else ''}` "
        f"(`nox -s bench`) on {dt.date.today().isoformat()}.",
        f"Machine: {machine()}. Agno: {agno}.",
        "",
        "Every scenario uses an instant model, so only the framework and the store are timed.",
        "Numbers are medians unless a table says otherwise.",
        "",
    ]
    failures = 0
    kept = previous_sections() if chosen is not None else {}
    for title, script, full_args, quick_args in SCENARIOS:
        if chosen is not None and script not in chosen:
            if title in kept:
                lines += [f"## {title}", "", kept[title].strip(), ""]
            continue
        args = quick_args if options.quick else full_args
        print(f"running {script} {' '.join(args)}", flush=True)
        code, output, seconds = run_scenario(script, args)
        command = f"python benchmarks/{script} {' '.join(args)}".strip()
        lines += [f"## {title}", "", f"`{command}` ({seconds:.0f} s)", ""]
        if code != 0:
            failures += 1
            lines += [f"**Failed with exit code {code}:**", "", "```", output[-4000:], "```", ""]
        else:
            lines += [output, ""]
    series = chart_points()
    if series and draw_chart(series):
        lines += [
            "## Cost per run against session length",
            "",
            f"![cost per run]({CHART.name})",
            "",
        ]
    report = "\n".join(lines) + "\n"
    RESULTS.write_text(report)
    page = report.replace(f"]({CHART.name})", "](assets/cost_per_run.png)")
    DOCS_PAGE.write_text(page.replace("](../docs/", "]("))  # links from benchmarks/ into docs/
    if CHART.exists():
        DOCS_CHART.parent.mkdir(exist_ok=True)
        shutil.copyfile(CHART, DOCS_CHART)
    print(f"wrote {RESULTS}, {DOCS_PAGE}" + (f" and {CHART}" if CHART.exists() else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
