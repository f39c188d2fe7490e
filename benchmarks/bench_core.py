"""Core overhead: import time of ``sessionary`` and the cost of one ``Agent.run`` on memory://.

Run from the repository root:

    python3 -m uv run --no-dev python benchmarks/bench_core.py

What it measures:

- ``python -c "import sessionary"`` wall time in fresh interpreters (median of 30), next
  to ``python -c "pass"``, and that no SDK, adapter or plugin module was imported.
- ``Agent.run`` with ``ScriptedModel`` (an instant model) on ``memory://``: the median
  cost of a run over runs 1-1,000 of one session, and over runs 9,001-10,000 of the same
  session, to show the cost is flat as the session grows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import Stats, machine, print_table, save_results, us

from sessionary import Agent
from sessionary.testing import ScriptedModel

HEAVY = ("openai", "anthropic", "redis", "pymongo", "sessionary_sqlite", "sessionary_redis")


def interpreter_wall(code: str, repeat: int = 30) -> Stats:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return Stats(samples)


def imported_after_import() -> list[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sessionary, sys, json; print(json.dumps(list(sys.modules)))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    return sorted(loaded & set(HEAVY))


def run_costs(total: int = 10_000, window: int = 1_000) -> tuple[Stats, Stats]:
    agent = Agent(model=ScriptedModel(), db="memory://", session_id="bench")
    samples: list[float] = []
    for index in range(total):
        start = time.perf_counter()
        agent.run(f"message {index}")
        samples.append(time.perf_counter() - start)
    return Stats(samples[:window]), Stats(samples[-window:])


def main() -> None:
    bare = interpreter_wall("pass")
    with_import = interpreter_wall("import sessionary")
    heavy = imported_after_import()
    early, late = run_costs()
    print(f"machine: {machine()}")
    print_table(
        "import sessionary (fresh interpreter, median of 30)",
        ["command", "wall", "above bare python"],
        [
            ['python -c "pass"', f"{bare.median * 1000:.1f} ms", "-"],
            [
                'python -c "import sessionary"',
                f"{with_import.median * 1000:.1f} ms",
                f"{(with_import.median - bare.median) * 1000:.1f} ms",
            ],
        ],
    )
    print(f"\nheavy modules imported by `import sessionary`: {heavy or 'none'}")
    print_table(
        "Agent.run on memory:// with an instant model (one session of 10,000 runs)",
        ["runs", "median", "p95"],
        [
            ["1-1,000", us(early.median), us(early.p95)],
            ["9,001-10,000", us(late.median), us(late.p95)],
        ],
    )
    print(f"\nlate/early median ratio: {late.median / early.median:.2f}")
    path = save_results(
        "core",
        {
            "import_wall_s": with_import.as_dict(),
            "bare_python_wall_s": bare.as_dict(),
            "heavy_modules": heavy,
            "run_first_1000_s": early.as_dict(),
            "run_last_1000_s": late.as_dict(),
        },
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
