"""The third-party naming plugin, written from the naming guide alone, passes the
naming-policy suite with no xfail, places itself among the built-ins by ``order`` and
names sessions as the guide says."""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest
import sessionary_naming_tickets

from sessionary import Agent
from sessionary.naming import InvalidNameError, NamingPolicy
from sessionary.plugins.manager import get_plugin_host, reset_plugin_host
from sessionary.testing import NamingPolicyConformance, ScriptedModel


class TestNamingTickets(NamingPolicyConformance):
    plugin = sessionary_naming_tickets


@pytest.fixture
def installed() -> Iterator[None]:
    """The plugin registered beside the installed ones, as its entry point would."""
    plugin = types.ModuleType("sessionary_naming_tickets_plugin")
    plugin.sessionary_naming_guardrails = sessionary_naming_tickets.sessionary_naming_guardrails  # type: ignore[attr-defined]
    plugin.sessionary_naming_fallbacks = sessionary_naming_tickets.sessionary_naming_fallbacks  # type: ignore[attr-defined]
    reset_plugin_host()
    get_plugin_host().pm.register(plugin, name="naming-tickets")
    try:
        yield
    finally:
        reset_plugin_host()


def test_it_takes_its_place_among_the_built_ins(installed: None) -> None:
    pipeline = NamingPolicy().resolve()
    guardrails = [g.name for g in pipeline.guardrails]
    assert guardrails == [
        "strip-reply",
        "clean",
        "label-only",
        "pii",
        "blocklist",
        "ticket-words",
        "length",
        "basic",
    ]
    assert [f.name for f in pipeline.fallbacks][:2] == ["support-ticket", "keywords"]


def test_reply_prefixes_go_blocked_words_fall_back_to_the_ticket(installed: None) -> None:
    agent = Agent(
        model=ScriptedModel("On it.", "Re: Fwd: Refund for damaged parcel", "Legal escalation"),
        db="memory://",
    )
    agent.run("Fwd: my parcel arrived damaged", session_id="s1", metadata={"zendesk_id": "4711"})
    named = agent.set_session_name(session_id="s1", autogenerate=True)
    assert (named.name, named.name_source) == ("Refund for damaged parcel", "model")

    named = agent.set_session_name(session_id="s1", autogenerate=True)
    assert (named.name, named.name_source) == ("Ticket 4711", "support-ticket")


def test_a_manual_name_it_would_change_is_refused_not_rewritten(installed: None) -> None:
    agent = Agent(model=ScriptedModel("On it."), db="memory://")
    agent.run("Hello", session_id="s1")
    with pytest.raises(InvalidNameError, match="strip-reply: would change it to 'Refund'"):
        agent.set_session_name(session_id="s1", session_name="Re: Refund")
    agent.naming = NamingPolicy(clean_manual_names=True)
    assert agent.set_session_name(session_id="s1", session_name="Re: Refund").name == "Refund"
