"""set_session_name / get_session_name: the spec snippets, manual names, scoping, errors.

These tests pin the naming policy explicitly, so they behave the same with or without
the naming plugins installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from sessionary import Agent
from sessionary.errors import InvalidIdError, InvalidInputError, PluginError, SessionNotFoundError
from sessionary.naming import (
    InvalidNameError,
    NameRejected,
    NamingContext,
    NamingFallback,
    NamingGuardrail,
    NamingPluginError,
    NamingPolicy,
    default_policy,
    set_default_policy,
)
from sessionary.testing import ScriptedModel

CORE_ONLY = NamingPolicy(guardrails=[], fallbacks=[])


@pytest.fixture(autouse=True)
def core_only_default() -> Iterator[None]:
    set_default_policy(CORE_ONLY)
    yield
    set_default_policy(None)


def agent_with_session(*replies: str, session_id: str = "session_001", **kwargs: Any) -> Agent:
    agent = Agent(model=ScriptedModel("Sure, let us plan it.", *replies), db="memory://", **kwargs)
    agent.run(
        "Help me plan our product launch", session_id=session_id, user_id=kwargs.get("user_id")
    )
    return agent


# --------------------------------------------------------------------------- the spec


def test_spec_manual_naming() -> None:
    agent = agent_with_session()

    agent.set_session_name(session_id="session_001", session_name="Product Launch Planning")
    name = agent.get_session_name(session_id="session_001")

    assert name == "Product Launch Planning"


def test_spec_auto_generated_name() -> None:
    agent = agent_with_session("E-commerce API Planning", session_id="session_123")

    session = agent.set_session_name(
        session_id="session_123",
        autogenerate=True,
    )
    # Access the generated name
    name = agent.get_session_name(session_id="session_123")

    assert name == "E-commerce API Planning"
    assert session.name == name
    assert session.name_source == "model"
    assert [m.content for m in session.get_chat_history()] == [
        "Help me plan our product launch",
        "Sure, let us plan it.",
    ]


def test_a_manual_name_returns_the_updated_session_with_its_runs() -> None:
    agent = agent_with_session()
    session = agent.set_session_name(session_id="session_001", session_name="Launch")
    assert (session.name, session.name_source) == ("Launch", "manual")
    assert len(session.runs) == 1
    stored = agent.db.get_session_info("session_001")
    assert stored is not None and stored.version == session.version


def test_an_unnamed_session_has_no_name() -> None:
    agent = agent_with_session()
    assert agent.get_session_name(session_id="session_001") is None


def test_renaming_again_replaces_the_name() -> None:
    agent = agent_with_session()
    agent.set_session_name(session_id="session_001", session_name="First")
    agent.set_session_name(session_id="session_001", session_name="Second")
    assert agent.get_session_name(session_id="session_001") == "Second"


def test_the_default_session_id_is_used_when_none_is_given() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://", session_id="mine")
    agent.run("Hello")
    agent.set_session_name(session_name="Default Session")
    assert agent.get_session_name() == "Default Session"


# --------------------------------------------------------------------------- never raw


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Product\nLaunch\r\nPlanning", "Product Launch Planning"),
        ("  Launch\tplan  ", "Launch plan"),
        ("Launch\x00\x1b[31m plan\x07", "Launch[31m plan"),
        ("\u202eevil\u202c name\u200b", "evil name"),
        ("a" * 300, "a" * 200),
        ("مراجعة\u200cالميزانية", "مراجعة\u200cالميزانية"),
    ],
)
def test_manual_names_are_cleaned_by_the_core_without_any_plugin(given: str, stored: str) -> None:
    agent = agent_with_session()
    session = agent.set_session_name(session_id="session_001", session_name=given)
    assert session.name == stored
    assert agent.get_session_name(session_id="session_001") == stored


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\r", "\x00\x01", "\u200b\u202e"])
def test_a_blank_manual_name_is_refused_and_nothing_changes(blank: str) -> None:
    agent = agent_with_session()
    agent.set_session_name(session_id="session_001", session_name="Keep Me")
    before = agent.db.get_session_info("session_001")
    with pytest.raises(InvalidNameError, match="refused"):
        agent.set_session_name(session_id="session_001", session_name=blank)
    after = agent.db.get_session_info("session_001")
    assert after == before


class NoSecrets(NamingGuardrail):
    """Refuses names that mention a secret; upper-cases the rest."""

    name: ClassVar[str] = "no-secrets"

    def check(self, proposal: str, context: NamingContext) -> str:
        if "secret" in proposal.lower():
            raise NameRejected("mentions a secret")
        return proposal.upper()


def test_manual_names_pass_the_configured_guardrails() -> None:
    agent = agent_with_session(naming=NamingPolicy(guardrails=[NoSecrets()], fallbacks=[]))
    with pytest.raises(InvalidNameError, match="no-secrets: would change it to 'LAUNCH'"):
        agent.set_session_name(session_id="session_001", session_name="launch")
    assert agent.set_session_name(session_id="session_001", session_name="OK").name == "OK"
    agent.naming = NamingPolicy(guardrails=[NoSecrets()], fallbacks=[], clean_manual_names=True)
    assert agent.set_session_name(session_id="session_001", session_name="launch").name == "LAUNCH"
    with pytest.raises(InvalidNameError, match="no-secrets: mentions a secret"):
        agent.set_session_name(session_id="session_001", session_name="Secret plan")
    assert agent.get_session_name(session_id="session_001") == "LAUNCH"


class Broken(NamingGuardrail):
    """A guardrail with a bug."""

    name: ClassVar[str] = "broken"

    def check(self, proposal: str, context: NamingContext) -> str:
        raise KeyError("oops")


def test_a_broken_guardrail_refuses_rather_than_letting_a_name_through() -> None:
    agent = agent_with_session(naming=NamingPolicy(guardrails=[Broken], fallbacks=[]))
    with pytest.raises(NamingPluginError, match="naming guardrail 'broken'.*KeyError"):
        agent.set_session_name(session_id="session_001", session_name="Launch")
    assert agent.get_session_name(session_id="session_001") is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [42, None, b"bytes", ["Launch"]])
def test_a_name_that_is_not_a_str_is_refused(bad: Any) -> None:
    agent = agent_with_session()
    with pytest.raises(InvalidInputError):
        agent.set_session_name(session_id="session_001", session_name=bad)


def test_name_and_autogenerate_together_or_neither_are_refused() -> None:
    agent = agent_with_session()
    with pytest.raises(InvalidInputError, match="not both"):
        agent.set_session_name(session_id="session_001", session_name="x", autogenerate=True)
    with pytest.raises(InvalidInputError, match="autogenerate"):
        agent.set_session_name(session_id="session_001")
    with pytest.raises(InvalidInputError, match="bool"):
        agent.set_session_name(session_id="session_001", autogenerate="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_id", ["", "x" * 257, "a\nb", 123])
def test_bad_session_ids_are_refused_before_any_io(bad_id: Any) -> None:
    agent = agent_with_session()
    with pytest.raises(InvalidIdError):
        agent.set_session_name(session_id=bad_id, session_name="x")
    with pytest.raises(InvalidIdError):
        agent.get_session_name(session_id=bad_id)


def test_a_missing_session_is_not_created_by_naming() -> None:
    agent = agent_with_session()
    with pytest.raises(SessionNotFoundError):
        agent.set_session_name(session_id="nope", session_name="x")
    with pytest.raises(SessionNotFoundError):
        agent.set_session_name(session_id="nope", autogenerate=True)
    with pytest.raises(SessionNotFoundError):
        agent.get_session_name(session_id="nope")
    assert agent.db.get_session_info("nope") is None


def test_another_users_session_is_not_found_and_not_renamed() -> None:
    agent = agent_with_session(user_id="alice")
    for call in (
        lambda: agent.set_session_name(session_id="session_001", session_name="x", user_id="bob"),
        lambda: agent.set_session_name(session_id="session_001", autogenerate=True, user_id="bob"),
        lambda: agent.get_session_name(session_id="session_001", user_id="bob"),
    ):
        with pytest.raises(SessionNotFoundError, match="bob"):
            call()
    assert agent.get_session_name(session_id="session_001") is None
    bobs_agent = Agent(model=ScriptedModel(), db=agent.db, user_id="bob")
    with pytest.raises(SessionNotFoundError):
        bobs_agent.set_session_name(session_id="session_001", session_name="x")
    agent.set_session_name(session_id="session_001", session_name="Alice's", user_id="alice")
    assert agent.get_session_name(session_id="session_001", user_id="alice") == "Alice's"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"naming": "strict"}, "NamingPolicy"),
        ({"auto_name_after_runs": 0}, "auto_name_after_runs"),
        ({"auto_name_after_runs": True}, "auto_name_after_runs"),
        ({"strict_naming": "yes"}, "strict_naming"),
        ({"naming_model": 42}, "model"),
    ],
)
def test_bad_naming_settings_are_refused_by_the_constructor(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Agent(model=ScriptedModel(), **kwargs)


def test_an_unknown_policy_name_fails_at_construction_naming_what_is_installed() -> None:
    with pytest.raises(PluginError, match="no naming guardrail named 'nope'.*basic"):
        Agent(model=ScriptedModel(), naming=NamingPolicy(guardrails=["nope"]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_messages": 0},
        {"message_chars": -1},
        {"max_words": 1.5},
        {"timeout": 0},
        {"timeout": "1"},
        {"guardrails": "clean"},
        {"guardrails": [42]},
        {"fallbacks": [NoSecrets()]},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="NamingPolicy"):
        NamingPolicy(**kwargs)


# --------------------------------------------------------------------------- policies


class Fixed(NamingFallback):
    """Always proposes the same name."""

    name: ClassVar[str] = "fixed"

    def propose(self, context: NamingContext) -> str | None:
        return "Fixed Name"


def test_the_global_default_applies_to_agents_without_their_own_policy() -> None:
    agent = agent_with_session()
    set_default_policy(
        NamingPolicy(guardrails=[NoSecrets()], fallbacks=[], clean_manual_names=True)
    )
    assert agent.set_session_name(session_id="session_001", session_name="late").name == "LATE"
    assert default_policy().guardrails is not None


def test_an_agents_own_policy_replaces_the_global_default_whole() -> None:
    set_default_policy(NamingPolicy(guardrails=[NoSecrets()], fallbacks=[Fixed()]))
    own = agent_with_session(naming=NamingPolicy(guardrails=[], fallbacks=[]))
    assert own.set_session_name(session_id="session_001", session_name="mine").name == "mine"
    # No fallback in its own policy either: the global Fixed fallback is not merged in.
    own.model = ScriptedModel(RuntimeError("down"))
    session = own.set_session_name(session_id="session_001", autogenerate=True)
    assert (session.name, session.name_source) == ("mine", "manual")


def test_set_default_policy_refuses_what_is_not_a_policy() -> None:
    with pytest.raises(InvalidInputError):
        set_default_policy("clean")  # type: ignore[arg-type]
