"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Stats", "machine", "measure", "print_table", "save_results"]

OUT = Path(__file__).parent / "out"


class Stats:
    """Summary of repeated timings, in seconds."""

    def __init__(self, samples: list[float]) -> None:
        self.samples = samples
        self.median = statistics.median(samples)
        self.mean = statistics.fmean(samples)
        ordered = sorted(samples)
        self.p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        self.min = ordered[0]

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "mean": self.mean, "p95": self.p95, "min": self.min}


def measure(fn: Callable[[], Any], *, repeat: int, warmup: int = 3) -> Stats:
    """Time ``fn`` ``repeat`` times after ``warmup`` calls, with the GC paused per call."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        gc_was = gc.isenabled()
        gc.disable()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        if gc_was:
            gc.enable()
    return Stats(samples)


def machine() -> str:
    """A one-line description of where the numbers were taken."""
    import os

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """Print a Markdown table."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def save_results(name: str, data: dict[str, Any]) -> Path:
    """Write a benchmark's numbers to ``benchmarks/out/NAME.json``."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2))
    return path


def ms(seconds: float) -> str:
    """Seconds as milliseconds with three significant decimals."""
    return f"{seconds * 1000:.3f} ms"


def us(seconds: float) -> str:
    """Seconds as microseconds."""
    return f"{seconds * 1e6:.1f} µs"
