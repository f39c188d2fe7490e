"""``sessionary serve``, added by the web plugin through ``sessionary_cli_commands``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import click
import httpx
import pytest
from click.testing import CliRunner
from inbox_desk import desk_agent, seed
from redis_support import free_port
from sessionary_cli import main

from sessionary import hookimpl
from sessionary.plugins import get_plugin_host, reset_plugin_host

SUPPORT = Path(__file__).resolve().parents[2] / "support"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"SESSIONARY_DB": "", **(env or {})})
    return result.exit_code, result.output


def test_the_plugin_adds_serve_to_the_command_line() -> None:
    code, out = run("--help")
    assert code == 0
    assert "serve" in out
    code, out = run("serve", "--help")
    assert code == 0
    assert "--agent" in out and "--token" in out


def test_serve_refuses_other_hosts_without_a_token() -> None:
    code, out = run("serve", "--db", "memory://", "--host", "0.0.0.0")
    assert code == 2
    assert "refusing to listen on 0.0.0.0 without a token" in out


def test_serve_says_what_is_missing_or_wrong(tmp_path: Path) -> None:
    assert run("serve")[0] == 2
    code, out = run("serve", "--db", f"sqlite:///{tmp_path / 'typo.db'}")
    assert (code, "does not exist" in out) == (5, True)
    assert not (tmp_path / "typo.db").exists()
    code, out = run("serve", "--agent", "no_such_module:agent")
    assert (code, "cannot load --agent" in out) == (2, True)
    code, out = run("serve", "--agent", "os:sep")
    assert (code, "not an Agent or a Team" in out) == (2, True)
    code, out = run("serve", "--agent", "inbox_desk:refund", "--db", "memory://")
    assert code == 2
    code, out = run("serve", "--db", "memory://", "--token", "short")
    assert (code, "at least 8" in out) == (2, True)


@pytest.fixture
def extra_plugin() -> Iterator[object]:
    """A plugin registered beside the installed ones for this test only."""
    reset_plugin_host()
    added: list[object] = []

    def add(plugin: object) -> None:
        get_plugin_host().pm.register(plugin, name=f"extra-{len(added)}")
        added.append(plugin)

    yield add
    reset_plugin_host()


def test_sessionary_cli_commands_adds_a_plugins_commands(extra_plugin: object) -> None:
    @click.command()
    def hello() -> None:
        """Say hello."""
        click.echo("hello from a plugin")

    extra_plugin(SimpleNamespace(sessionary_cli_commands=hookimpl(lambda: [hello])))  # type: ignore[operator]
    assert run("hello") == (0, "hello from a plugin\n")
    assert "hello" in run("--help")[1]


def test_a_command_name_taken_twice_is_an_error_naming_the_plugins(extra_plugin: object) -> None:
    @click.command("serve")
    def other_serve() -> None:
        """Another serve."""

    extra_plugin(SimpleNamespace(sessionary_cli_commands=hookimpl(lambda: [other_serve])))  # type: ignore[operator]
    code, out = run("serve", "--help")
    assert code == 1
    assert "'serve' is added by two plugins" in out and "'web'" in out


def test_a_plugin_may_not_replace_a_built_in_command(extra_plugin: object) -> None:
    @click.command("sessions")
    def sessions() -> None:
        """Not the real one."""

    extra_plugin(SimpleNamespace(sessionary_cli_commands=hookimpl(lambda: [sessions])))  # type: ignore[operator]
    code, out = run("--help")
    assert code == 1
    assert "built-in command" in out


@pytest.mark.slow
def test_serve_with_an_agent_shows_the_store_and_continues_a_paused_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    ids = seed(desk_agent(url))
    port = free_port()
    env = {
        **os.environ,
        "DESK_DB": url,
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [str(Path(sys.executable).parent / "sessionary"), "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--agent", "inbox_desk_serve:agent"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        page = _wait_for(base, server)
        assert "Refund for Carol" in page.text
        with httpx.Client(base_url=base) as http:
            csrf = {"X-CSRF-Token": http.get("/api/csrf").json()["csrf_token"]}
            queue = http.get("/api/approvals").json()
            item = next(i for i in queue["items"] if i["session"]["session_id"] == ids["paused_a"])
            run_ = item["runs"][0]
            answer = {"id": run_["requirements"][0]["id"], "action": "confirm"}
            body = {"session_id": ids["paused_a"], "run_id": run_["run_id"], "answers": [answer]}
            done = http.post("/api/continue", json=body, headers=csrf).json()
        assert done["content"] == "Done: refunded 25.00 on C-3003"
        stored = desk_agent(url).get_run_output(run_["run_id"], ids["paused_a"])
        assert stored is not None and stored.status == "completed"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(base: str, server: subprocess.Popen[str]) -> httpx.Response:
    """The inbox page, once the server answers (or the server's output if it exits)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"sessionary serve exited {server.returncode}: {server.stdout.read()}")  # type: ignore[union-attr]
        try:
            return httpx.get(base + "/", timeout=5)
        except httpx.TransportError:
            time.sleep(0.05)  # not listening yet
    pytest.fail("sessionary serve did not answer within 60 s")
