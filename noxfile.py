"""The test matrix: lint, types, docs, and tests of every component on every Python.

    nox                              everything (what CI runs)
    nox -s lint types docs           the checks
    nox -t sqlite                    one component on every Python
    nox -s "tests(3.12, redis)"      one cell
    nox -s "tests(mongodb-real)"     the MongoDB suite against SESSIONARY_MONGODB_URL
    nox -s bench                     the benchmarks

Components are found on disk: ``core``, every ``adapters/NAME`` and ``plugins/NAME``
with a ``pyproject.toml``; each one's tests live in ``tests/<same path>`` (core's in
``tests/core``) and its extra test dependencies in its own ``[dependency-groups] test``.
Pythons are 3.10 to 3.13, those of them that are installed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "types", "docs", "tests"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
ALL_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
PYTHONS = [v for v in ALL_PYTHONS if shutil.which(f"python{v}")] or ["3.11"]


def _components() -> dict[str, Path]:
    found = {"core": ROOT / "core"}
    for group in ("adapters", "plugins"):
        for path in sorted((ROOT / group).glob("*/pyproject.toml")):
            if not path.parent.name.startswith("_"):
                found[path.parent.name] = path.parent
    return found


COMPONENTS = _components()
#: Test suites that are not one component's: they install every component.
SUITES = {"e2e": ROOT / "tests" / "e2e"}
#: The Agno importer's tests, each with the real Agno it reads (installed only there).
AGNO_IMPORT = {
    "agno-import-2": ["agno==2.9.0", "sqlalchemy[asyncio]>=2", "openai>=1.99"],
    "agno-import-3": ["agno==3.1.10", "sqlalchemy[asyncio]>=2", "openai>=1.99"],
}


def _tests_dir(name: str, path: Path) -> Path:
    if name in SUITES:
        return SUITES[name]
    return ROOT / "tests" / ("core" if name == "core" else path.relative_to(ROOT))


def _test_group(path: Path) -> list[str]:
    data = tomllib.loads((path / "pyproject.toml").read_text())
    return list(data.get("dependency-groups", {}).get("test", []))


def _install(session: nox.Session, *paths: Path, groups: tuple[str, ...] = ("test",)) -> None:
    """Install core and the given components editable, with the root's dependency groups."""
    requirements: list[str] = []
    for group in groups:
        requirements += nox.project.dependency_groups(PYPROJECT, group)
    editable: list[str] = ["-e", str(ROOT / "core")]
    for path in paths:
        if path != ROOT / "core":
            editable += ["-e", str(path)]
        requirements += _test_group(path)
    session.install(*editable, *requirements)


@nox.session(tags=["tests"])
@nox.parametrize(
    ["python", "component"],
    [nox.param(p, c, id=f"{p}, {c}", tags=[c]) for p in PYTHONS for c in [*COMPONENTS, *SUITES]]
    + [nox.param("3.11", name, id=name, tags=["agno"]) for name in AGNO_IMPORT],
)
def tests(session: nox.Session, component: str) -> None:
    """Run one component's tests on one Python."""
    if component in AGNO_IMPORT:
        _install(session)
        session.install(*AGNO_IMPORT[component])
        session.run("pytest", str(ROOT / "tests" / "agno_import"), *session.posargs)
        return
    if component in SUITES:
        path = SUITES[component]
        _install(session, *COMPONENTS.values(), groups=("test", "e2e"))
    else:
        path = COMPONENTS[component]
        _install(session, path)
    args = [str(_tests_dir(component, path))]
    if component == "core":
        args += ["--doctest-modules", str(ROOT / "core" / "src" / "sessionary")]
    session.run("pytest", *args, *session.posargs)


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
    path = COMPONENTS["mongodb"]
    _install(session, path)
    session.run(
        "pytest",
        str(_tests_dir("mongodb", path)),
        *session.posargs,
        env={"SESSIONARY_MONGODB_URL": url},
    )


@nox.session(python=PYTHONS[-1] if "3.12" not in PYTHONS else "3.12")
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and the import contracts over the whole tree."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # Import contracts (pyproject.toml): grimp reads the sources, so src/ on the path is enough.
    src = os.pathsep.join(str(p / "src") for p in COMPONENTS.values())
    session.run("lint-imports", env={"PYTHONPATH": src})


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    """mypy --strict over every component's source and the tests."""
    _install(session, *COMPONENTS.values(), groups=("types", "test", "e2e"))
    sources = [str(p / "src") for p in COMPONENTS.values()]
    # benchmarks/ too: the scripts import their helpers (common, *_agno) by plain name.
    env = {"MYPYPATH": os.pathsep.join([*sources, str(ROOT / "benchmarks")])}
    session.run("mypy", *sources, "tests", "benchmarks", env=env)


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """Every benchmark, Sessionary beside Agno 3.1.10: writes benchmarks/results.md and a chart.

    Agno is installed here only, never in a package's dependencies. ``nox -s bench --
    --quick`` checks the pipeline with small sessions.
    """
    _install(session, *COMPONENTS.values())
    session.install("agno==3.1.10", "sqlalchemy[asyncio]>=2", "mongomock>=4.3", "matplotlib>=3.8")
    session.run("python", str(ROOT / "benchmarks" / "run_all.py"), *session.posargs)


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    _install(session, *COMPONENTS.values(), groups=("docs",))
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
