"""The test matrix: lint, types, docs, and every test on the oldest and newest Python.

    nox                              what CI and the README's test command run
    nox -s lint types docs           the checks
    nox -s "tests(3.13)"             every test on one Python
    nox -s "tests(3.13)" -- tests/adapters/redis      a part of them (pytest arguments)
    nox -s "tests_agno(agno-import-3)"  the Agno importer against the real Agno 3
    nox -s "tests_openai_agents(sqlite)"  the OpenAI Agents SDK's own tests on our session
    nox -s "tests(mongodb-real)"     the MongoDB suite against SESSIONARY_MONGODB_URL
    nox -s latest                    every test against the newest releases (not in ``nox``)
    nox -s bench                     the benchmarks

Versions come from ``uv.lock`` and nowhere else: every session syncs its environment with
``uv sync --locked`` (a lock that no longer matches ``pyproject.toml`` is an error, not a
silent re-resolve), so a fresh machine tests exactly what the last green run tested.
``latest`` is the one exception, by design, and is not part of ``nox``.

Every test runs on the oldest and the newest installed Python (3.10 and 3.13 here), in one
environment per Python holding every component, with pytest-xdist workers (the suites wait
on servers and subprocesses more than on the CPU). The Pythons between them run core's
tests, which is where version-specific behaviour (asyncio, typing) lives.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "types", "docs", "tests", "tests_agno", "tests_openai_agents"]

ROOT = Path(__file__).parent
ALL_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
PYTHONS = [v for v in ALL_PYTHONS if shutil.which(f"python{v}")] or ["3.11"]
#: Every test runs on these; the Pythons between them run core's tests.
FULL_PYTHONS = sorted({PYTHONS[0], PYTHONS[-1]}, key=ALL_PYTHONS.index)
#: pytest-xdist workers: the suites are I/O-bound (servers, subprocesses, fsync).
WORKERS = os.environ.get("SESSIONARY_TEST_WORKERS", "4")
#: The Agno importer's tests, each with the real Agno it reads (a locked group each).
AGNO_IMPORT = {"agno-import-2": "agno2", "agno-import-3": "agno3"}
CORE_DOCTESTS = str(ROOT / "core" / "src" / "sessionary")


def _sync(session: nox.Session, *groups: str) -> None:
    """Install exactly what uv.lock pins: every component (editable) and the given groups."""
    args = ["uv", "sync", "--locked", "--all-packages", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    session.run_install(
        *args,
        f"--python={session.virtualenv.location}",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


def _pytest(session: nox.Session, *args: str) -> None:
    """pytest with xdist workers, unless the caller chose the arguments."""
    workers = [] if session.posargs else ["-n", WORKERS]
    session.run("pytest", *workers, *(session.posargs or args))


@nox.session(tags=["tests"])
@nox.parametrize(
    "python",
    [nox.param(p, id=p) for p in PYTHONS],
)
def tests(session: nox.Session) -> None:
    """Every test on the oldest and newest Python; core's tests on the others.

    The web inbox's browser tests drive Debian's /usr/bin/chromium through Playwright
    (the ``browser`` group); no browser is downloaded.
    """
    if session.python in FULL_PYTHONS:
        _sync(session, "test", "e2e", "browser")
        _pytest(
            session,
            "tests",
            "--ignore=tests/agno_import",
            "--doctest-modules",
            CORE_DOCTESTS,
        )
    else:
        _sync(session, "test", "e2e")
        _pytest(session, "tests/core", "--doctest-modules", CORE_DOCTESTS)


@nox.session(tags=["tests", "agno"], python="3.11")
@nox.parametrize("cell", [nox.param(name, id=name) for name in AGNO_IMPORT])
def tests_agno(session: nox.Session, cell: str) -> None:
    """`sessionary import-agno` against databases the real Agno writes (2.x and 3.x)."""
    _sync(session, "test", AGNO_IMPORT[cell])
    session.run("pytest", "tests/agno_import", *session.posargs)


@nox.session(tags=["tests"], python="3.11")
@nox.parametrize("backend", [nox.param(name, id=name) for name in ("memory", "sqlite", "redis")])
def tests_openai_agents(session: nox.Session, backend: str) -> None:
    """The OpenAI Agents SDK's own tests with SessionarySession in place of SQLiteSession.

    The tests come from the sdist of the SDK version uv.lock pins; the ones listed in
    tests/openai_agents_sdk/expected_failures.txt must fail, every other one must pass.
    """
    _sync(session, "openai-agents-tests")
    script = str(ROOT / "tests" / "openai_agents_sdk" / "run_sdk_tests.py")
    session.run("python", script, backend, "-n", WORKERS, "-q", *session.posargs)


@nox.session(name="tests(mongodb-real)", python="3.11", default=False)
def tests_mongodb_real(session: nox.Session) -> None:
    """The MongoDB suite against the server at SESSIONARY_MONGODB_URL (not run by default).

    Fails, never skips, when the variable is unset or the server cannot be reached.
    """
    url = os.environ.get("SESSIONARY_MONGODB_URL")
    if not url:
        session.error(
            "SESSIONARY_MONGODB_URL is not set; point it at a MongoDB server, e.g. "
            "SESSIONARY_MONGODB_URL=mongodb://localhost:27017 nox -s 'tests(mongodb-real)'"
        )
    _sync(session, "test")
    session.run(
        "pytest",
        "tests/adapters/mongodb",
        *session.posargs,
        env={"SESSIONARY_MONGODB_URL": url},
    )


@nox.session(python=PYTHONS[-1], default=False)
def latest(session: nox.Session) -> None:
    """Every test against the newest releases of every dependency (never in ``nox``).

    It resolves afresh, ignoring uv.lock (which it never writes): an early warning of what
    the next ``uv lock --upgrade`` brings. A failure here is a task, not a broken build.
    """
    pyproject = nox.project.load_toml(ROOT / "pyproject.toml")
    groups = [*nox.project.dependency_groups(pyproject, "test", "e2e", "browser")]
    editable = [arg for p in _components() for arg in ("-e", str(p.parent))]
    session.install("--upgrade", *editable, *groups)
    _pytest(session, "tests", "--ignore=tests/agno_import")


@nox.session(python=PYTHONS[-1])
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and the import contracts over the whole tree."""
    _sync(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")  # the import contracts of pyproject.toml


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    """mypy --strict over every component's source, the tests and the benchmarks."""
    _sync(session, "types", "test", "e2e", "browser")
    sources = [str(p.parent / "src") for p in _components()]
    # benchmarks/ too: the scripts import their helpers (common, *_agno) by plain name.
    env = {
        "MYPYPATH": os.pathsep.join(
            [*sources, str(ROOT / "benchmarks"), str(ROOT / "tests" / "support")]
        )
    }
    session.run("mypy", *sources, "tests", "benchmarks", env=env)


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """Every benchmark, Sessionary beside Agno 3.1.10: writes benchmarks/results.md and a chart.

    Agno comes from the locked ``bench`` group, never from a package's dependencies.
    ``nox -s bench -- --quick`` checks the pipeline with small sessions.
    """
    _sync(session, "test", "bench")
    session.run("python", str(ROOT / "benchmarks" / "run_all.py"), *session.posargs)


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    _sync(session, "docs")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


def _components() -> list[Path]:
    """Every distribution's pyproject.toml: core, adapters/NAME, plugins/NAME (not _template)."""
    found = [ROOT / "core" / "pyproject.toml"]
    for group in ("adapters", "plugins"):
        found += [
            p for p in sorted((ROOT / group).glob("*/pyproject.toml")) if p.parent.name[0] != "_"
        ]
    return found
