"""Run the OpenAI Agents SDK's own tests with ``SessionarySession`` in place of ``SQLiteSession``.

    python tests/openai_agents_sdk/run_sdk_tests.py sqlite [pytest arguments]

The tests come from the sdist of the SDK version ``uv.lock`` pins, fetched from the URL the
lock records and checked against the lock's SHA-256, then kept under ``.cache/`` (a fresh
machine needs only the package index). They run from the sdist's root with the sdist's
pytest settings and ``harness.py`` loaded (``-p harness``): the files below are those
that construct a ``SQLiteSession``; the SDK's other tests never touch a session.
``nox -s tests_openai_agents`` runs this on memory, SQLite and Redis.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import urllib.request
import uuid
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PACKAGE = "openai-agents"
#: The SDK's test files that construct a ``SQLiteSession``, run with ours swapped in.
FILES = (
    "tests/memory/test_session.py",
    "tests/memory/test_session_limit.py",
    "tests/memory/test_compaction_suffix.py",
    "tests/memory/test_openai_responses_compaction_session.py",
    "tests/memory/test_compaction_model_visibility.py",
    "tests/extensions/memory/test_encrypt_session.py",
    "tests/test_agent_runner.py",
    "tests/test_agent_runner_streamed.py",
    "tests/test_run_impl_resume_paths.py",
    "tests/test_tool_batch_failure_history.py",
    "tests/test_native_tool_failure_history.py",
    "tests/test_tool_failure_boundaries.py",
    "tests/test_soft_cancel.py",
    "tests/test_max_turns.py",
    "tests/test_programmatic_tool_calling.py",
    "tests/sandbox/test_memory.py",
)


def locked_sdist(lock: str) -> tuple[str, str, str]:
    """The version, sdist URL and SHA-256 that ``uv.lock`` records for the SDK."""
    block = re.search(
        rf'\[\[package\]\]\nname = "{PACKAGE}"\nversion = "([^"]+)"(.*?)(?:\n\n|\Z)', lock, re.S
    )
    if block is None:
        raise SystemExit(f"uv.lock has no {PACKAGE} package")
    sdist = re.search(r'sdist = \{ url = "([^"]+)", hash = "sha256:([0-9a-f]{64})"', block[2])
    if sdist is None:
        raise SystemExit(f"uv.lock records no sdist for {PACKAGE} {block[1]}")
    return block[1], sdist[1], sdist[2]


def sdk_tests() -> Path:
    """The folder holding the locked SDK's ``tests/`` and ``pyproject.toml``, fetched once."""
    version, url, sha256 = locked_sdist((ROOT / "uv.lock").read_text())
    installed = metadata.version(PACKAGE)
    if installed != version:
        raise SystemExit(f"{PACKAGE} {installed} is installed but uv.lock pins {version}")
    folder = ROOT / ".cache" / f"{PACKAGE}-{version}"
    if (folder / "tests").is_dir():
        return folder
    print(f"fetching the {PACKAGE} {version} sdist for its tests", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SystemExit(f"the {PACKAGE} sdist does not match uv.lock's SHA-256")
    top = f"openai_agents-{version}/"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = [
            m
            for m in archive.getmembers()
            if m.name.startswith(top + "tests/") or m.name == top + "pyproject.toml"
        ]
        for member in members:
            member.name = member.name[len(top) :]
        partial = folder.with_name(folder.name + ".partial")
        archive.extractall(partial, members=members, filter="data")
    partial.rename(folder)
    return folder


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("memory", "sqlite", "redis"):
        print(__doc__, file=sys.stderr)
        return 2
    backend, args = argv[0], argv[1:]
    folder = sdk_tests()
    paths = [os.fspath(HERE), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "SESSIONARY_SDK_BACKEND": backend,
        # One Redis key prefix for the run: its workers write there, and it is deleted.
        "SESSIONARY_SDK_PREFIX": f"sdk-tests-{uuid.uuid4().hex[:12]}",
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
    }
    selected = [a for a in args if a.startswith("tests/")] or list(FILES)
    options = [a for a in args if not a.startswith("tests/")]
    command = [sys.executable, "-m", "pytest", "-p", "harness", "-p", "no:cacheprovider"]
    return subprocess.call([*command, *options, *selected], cwd=folder, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
