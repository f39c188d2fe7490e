"""Coming from Agno: print_response, Agno's options refused with a hint, pure-rename aliases."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from sessionary import Agent, Team, tool
from sessionary.agent.agno_options import AGNO_HINTS
from sessionary.errors import InvalidInputError
from sessionary.models.base import ContentDelta
from sessionary.storage.memory import InMemoryDb, MemoryDb
from sessionary.testing import ScriptedModel, tool_call


def test_print_response_prints_the_message_and_the_answer_and_stores_the_run() -> None:
    out = io.StringIO()
    agent = Agent(model=ScriptedModel("Hello there!"), db=InMemoryDb())
    agent.print_response("Hi", session_id="s", markdown=True, file=out)
    assert out.getvalue() == "Message:\nHi\n\nResponse:\nHello there!\n"
    assert [m.content for m in agent.get_chat_history(session_id="s")] == ["Hi", "Hello there!"]


def test_print_response_streams_and_aprint_response_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent = Agent(model=ScriptedModel("One two three", "Async answer"))
    agent.print_response("Count", stream=True, show_message=False)
    assert capsys.readouterr().out == "Response:\nOne two three\n"
    asyncio.run(agent.aprint_response("Again", stream=False))
    assert capsys.readouterr().out.endswith("Response:\nAsync answer\n")


def test_print_response_shows_what_a_paused_run_waits_for() -> None:
    @tool(requires_confirmation=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return "deleted"

    out = io.StringIO()
    agent = Agent(model=ScriptedModel(tool_call("delete_file", path="/tmp/x")), tools=[delete_file])
    agent.print_response("Delete it", file=out)
    assert "[paused: confirmation for delete_file({'path': '/tmp/x'})]" in out.getvalue()


@pytest.mark.parametrize("option", ["description", "add_datetime_to_context", "role", "debug_mode"])
def test_agno_options_are_refused_with_what_to_use_instead(option: str) -> None:
    options: dict[str, Any] = {option: True}
    with pytest.raises(InvalidInputError) as caught:
        Agent(model=ScriptedModel(), **options)
    message = str(caught.value)
    assert repr(option) in message and AGNO_HINTS[option] in message
    assert isinstance(caught.value, TypeError)  # as Python's own error would be


def test_every_agno_option_has_a_hint_or_is_sessionarys_own() -> None:
    # Agno 3.1.10's Agent and Team keyword arguments (inspect.signature), checked here
    # without importing Agno: each is an option of ours or has a hint.
    agno_team_only = {"members", "mode", "respond_directly", "delegate_to_all_members"}
    ours = {a.alias for a in __import__("attrs").fields(Team) if a.init} | agno_team_only
    for name in (
        "session_state",
        "add_session_state_to_context",
        "resolve_in_context",
        "enable_session_summaries",
        "add_session_summary_to_context",
        "session_summary_manager",
        "cache_session",
        "num_history_runs",
    ):
        assert name in ours
    with pytest.raises(InvalidInputError, match="'mode' .Agno's.: a Team delegates"):
        Team(model=ScriptedModel(), members=[], mode="route")  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="has no option 'colour'$"):
        Agent(model=ScriptedModel(), colour="blue")  # type: ignore[call-arg]


def test_unknown_print_response_options_are_refused() -> None:
    agent = Agent(model=ScriptedModel("x"))
    with pytest.raises(InvalidInputError, match="show_reasoning"):
        agent.print_response("hi", show_reasoning=True)
    assert agent.list_sessions().items == ()  # refused before the run


def test_markdown_is_mapped_as_agno_does() -> None:
    model = ScriptedModel("ok")
    Agent(model=model, instructions="Be brief.", markdown=True).run("hi")
    assert model.requests[0].messages[0].content == (
        "Be brief.\n\nUse markdown to format your answers."
    )


def test_pure_rename_aliases() -> None:
    assert InMemoryDb is MemoryDb
    assert ContentDelta(text="hi").content == "hi"
    from sessionary_sqlite import AsyncSqliteDb, SqliteDb

    assert AsyncSqliteDb is SqliteDb

    @tool(requires_confirmation=True)
    def wipe() -> str:
        """Wipe."""
        return "wiped"

    run = Agent(model=ScriptedModel(tool_call("wipe")), tools=[wipe]).run("wipe")
    requirement = run.active_requirements[0]
    assert requirement.tool_execution.tool_name == "wipe"
    assert requirement.tool_execution.tool_args == {}
