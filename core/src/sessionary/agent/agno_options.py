"""Agno's constructor options on ``Agent`` and ``Team``: refused with what to use instead.

Agno's options about sessions are Sessionary's own (same names, same meaning). Every
other keyword argument is refused with :class:`~sessionary.errors.InvalidInputError`
naming it and, for Agno's options, saying what to use instead, before anything is
made (not Python's bare ``TypeError``). The table is also the "Coming from Agno" page's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from sessionary.errors import InvalidInputError

__all__ = ["AGNO_HINTS", "UnknownOptionError", "refuse_unknown_options"]


class UnknownOptionError(InvalidInputError, TypeError):
    """A keyword argument ``Agent`` or ``Team`` does not take (a ``TypeError`` too, as
    Python's own would be)."""


_INSTRUCTIONS = "put it in instructions=... (a str or a list of lines)"
_APP = "not part of Sessionary: do it in your application around the run"
_MEMORY = "Sessionary keeps sessions, not memories or knowledge: " + _APP.split(": ")[1]
_DROP = "not needed in Sessionary: drop it"
_STREAM = "pass stream=True to run()/arun() (chunks are ContentDelta, text in .text or .content)"

#: Agno's option -> what to use in Sessionary instead.
AGNO_HINTS: Final[dict[str, str]] = {
    "description": _INSTRUCTIONS,
    "expected_output": _INSTRUCTIONS,
    "additional_context": _INSTRUCTIONS,
    "role": "a member's instructions=... say its role (the team's model reads them)",
    "introduction": "store a first run yourself, or put it in instructions=...",
    "system_message": "instructions=... is the system message",
    "system_message_role": _DROP,
    "user_message_role": _DROP,
    "build_context": _DROP,
    "build_user_context": _DROP,
    "use_instruction_tags": _INSTRUCTIONS,
    "add_datetime_to_context": "put the date in instructions with a {placeholder} and "
    "session_state (resolve_in_context=True), or in instructions=... directly",
    "datetime_format": "format the date yourself before putting it in session_state",
    "timezone_identifier": "format the date yourself before putting it in session_state",
    "add_location_to_context": _INSTRUCTIONS,
    "add_name_to_context": _INSTRUCTIONS,
    "enable_agentic_state": "give the agent a tool that changes run_context.session_state "
    "(see docs/guides/session-state.md)",
    "overwrite_db_session_state": "store.update_session(session_id, state=...) replaces the "
    "whole state; update_session_state() sets keys",
    "dependencies": "pass values through session_state=... on the agent or on run()",
    "add_dependencies_to_context": "session_state=... with add_session_state_to_context=True",
    "search_past_sessions": "list_sessions() and get_chat_history() read other sessions",
    "num_past_sessions_to_search": "list_sessions(limit=...)",
    "num_past_session_runs_in_search": "get_chat_history(last_n_runs=...)",
    "read_chat_history": "add_history_to_context=True with num_history_runs=...",
    "num_history_messages": "num_history_runs=... (history is counted in runs)",
    "max_tool_calls_from_history": "num_history_runs=... (history is counted in runs)",
    "read_tool_call_history": "agent.get_session(...).get_messages() has every tool call",
    "store_events": _DROP,
    "events_to_skip": _DROP,
    "store_media": _DROP,
    "store_tool_messages": "every message of a run is stored; filter on reading",
    "store_history_messages": "every message of a run is stored; filter on reading",
    "send_media_to_model": "Sessionary runs take text input",
    "media_storage": "Sessionary runs take text input",
    "stream": _STREAM,
    "stream_events": _STREAM,
    "stream_intermediate_steps": _STREAM,
    "debug_mode": "configure the 'sessionary' logger (logging.getLogger('sessionary'))",
    "debug_level": "configure the 'sessionary' logger (logging.getLogger('sessionary'))",
    "telemetry": "Sessionary sends no telemetry: drop it",
    "retries": "the model provider retries (its SDK's max_retries)",
    "delay_between_retries": "the model provider retries (its SDK's max_retries)",
    "exponential_backoff": "the model provider retries (its SDK's max_retries)",
    "fallback_models": _APP,
    "fallback_config": _APP,
    "tool_call_limit": "max_steps=... bounds the model calls of a run",
    "max_iterations": "max_steps=... bounds the model calls of a run",
    "tool_choice": _DROP,
    "tool_hooks": "wrap the tool function yourself",
    "pre_hooks": _APP,
    "post_hooks": _APP,
    "input_schema": "Sessionary runs take text input",
    "output_schema": "ask for JSON in instructions=... and parse run.content",
    "output_model": _APP,
    "output_model_prompt": _APP,
    "parser_model": _APP,
    "parser_model_prompt": _APP,
    "parse_response": _DROP,
    "structured_outputs": "ask for JSON in instructions=... and parse run.content",
    "use_json_mode": "ask for JSON in instructions=... and parse run.content",
    "save_response_to_file": "write run.content to a file yourself",
    "metadata": "store.update_session(session_id, metadata=...) keeps metadata on the session",
    "memory_manager": _MEMORY,
    "enable_agentic_memory": _MEMORY,
    "enable_user_memories": _MEMORY,
    "update_memory_on_run": _MEMORY,
    "add_memories_to_context": _MEMORY,
    "knowledge": _MEMORY,
    "knowledge_filters": _MEMORY,
    "knowledge_retriever": _MEMORY,
    "add_knowledge_to_context": _MEMORY,
    "enable_agentic_knowledge_filters": _MEMORY,
    "search_knowledge": _MEMORY,
    "update_knowledge": _MEMORY,
    "add_search_knowledge_instructions": _MEMORY,
    "references_format": _MEMORY,
    "learning": _MEMORY,
    "add_learnings_to_context": _MEMORY,
    "reasoning": _APP,
    "reasoning_min_steps": _APP,  # Agno 2
    "reasoning_max_steps": _APP,  # Agno 2
    "add_culture_to_context": _MEMORY,  # Agno 2
    "culture_manager": _MEMORY,  # Agno 2
    "enable_agentic_culture": _MEMORY,  # Agno 2
    "update_cultural_knowledge": _MEMORY,  # Agno 2
    "num_history_sessions": "history comes from the session's own runs: num_history_runs=...",
    "search_session_history": "list_sessions(...) and get_chat_history(...) in your tools",
    "reasoning_model": _APP,
    "reasoning_agent": _APP,
    "followups": _APP,
    "followup_model": _APP,
    "num_followups": _APP,
    "compaction": "store.trim_runs(session_id, keep_last=...) with a session summary "
    "(enable_session_summaries=True)",
    "compression_manager": "enable_session_summaries=True with add_session_summary_to_context",
    "compress_tool_results": _DROP,
    "offload_tool_results": _DROP,
    "checkpoint": "paused runs are stored and continue in any process (continue_run)",
    "cache_callables": _DROP,
    "callable_tools_cache_key": _DROP,
    "callable_knowledge_cache_key": _DROP,
    "callable_members_cache_key": _DROP,
    "filesystem": _APP,
    "sandbox": _APP,
    "skills": "tools=[...]",
    "additional_input": "add_history_to_context=True, or put examples in instructions=...",
    # Teams.
    "mode": "a Team delegates through its model (Agno's coordinate mode); route in your code",
    "respond_directly": "return the member's run: team.get_session(...).runs has it",
    "delegate_to_all_members": "the team's model may delegate to every member in one turn",
    "determine_input_for_members": _DROP,
    "share_member_interactions": _DROP,
    "add_member_tools_to_context": _DROP,
    "get_member_information_tool": "the team's system message lists its members",
    "show_members_responses": "team.get_session(...).runs holds the members' runs",
    "store_member_responses": "member runs are always stored in the team's session",
    "stream_member_events": _STREAM,
    "add_team_history_to_members": _DROP,
    "num_team_history_runs": "num_history_runs=...",
}


def refuse_unknown_options(init: Callable[..., None], known: frozenset[str], kind: str) -> Any:
    """``init`` that first refuses keyword arguments not in ``known``, naming them."""

    @functools.wraps(init)
    def checked(self: object, *args: Any, **kwargs: Any) -> None:
        unknown = sorted(k for k in kwargs if k not in known)
        if unknown:
            raise UnknownOptionError("; ".join(_explain(kind, name) for name in unknown))
        init(self, *args, **kwargs)

    return checked


def _explain(kind: str, name: str) -> str:
    hint = AGNO_HINTS.get(name)
    if hint is None:
        return f"{kind}() has no option {name!r}"
    return f"{kind}() has no option {name!r} (Agno's): {hint}"
