"""Naming through plugins: the naming hooks, the default pipeline, the renamed event, and
the core's built-in guardrail passing the naming-policy conformance suite."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

import sessionary.builtins
from sessionary import Agent
from sessionary.naming import NamingPolicy, set_default_policy
from sessionary.plugins.manager import get_plugin_host
from sessionary.testing import NamingPolicyConformance, ScriptedModel

MakePlugin = Callable[[str, str], None]

NAMING_PLUGIN = """
from sessionary import hookimpl
from sessionary.naming import NameRejected, NamingFallback, NamingGuardrail

RENAMED = []


class Shout(NamingGuardrail):
    '''Upper-cases names.'''
    name = "shout"
    order = 20

    def check(self, proposal, context):
        return proposal.upper()


class NoDogs(NamingGuardrail):
    '''Refuses dogs.'''
    name = "no-dogs"
    order = 10

    def check(self, proposal, context):
        if "dog" in proposal.lower():
            raise NameRejected("no dogs")
        return proposal


class Second(NamingFallback):
    '''Proposes a dog (refused).'''
    name = "second"
    order = 20

    def propose(self, context):
        return "a dog"


class Third(NamingFallback):
    '''Proposes a cat.'''
    name = "third"
    order = 30

    def propose(self, context):
        return "a cat"


@hookimpl
def sessionary_naming_guardrails():
    return [Shout, NoDogs]


@hookimpl
def sessionary_naming_fallbacks():
    return [Third, Second]


@hookimpl
def sessionary_session_renamed(session, old_name):
    RENAMED.append((session.session_id, old_name, session.name, session.name_source))
"""


@pytest.fixture
def naming_plugin(install_plugin: MakePlugin) -> Iterator[object]:
    set_default_policy(None)
    install_plugin("fake-naming", NAMING_PLUGIN)
    get_plugin_host()
    yield sys.modules["fake_plugin_fake_naming"]
    set_default_policy(None)


def test_installed_policies_join_the_default_pipeline_in_their_order(naming_plugin: object) -> None:
    pipeline = NamingPolicy().resolve()
    names = [g.name for g in pipeline.guardrails]
    assert names.index("no-dogs") < names.index("shout") < names.index("basic")
    assert names[-1] == "basic" and names.count("basic") == 1
    fallbacks = [f.name for f in pipeline.fallbacks]
    assert fallbacks.index("second") < fallbacks.index("third")


def test_hooks_drive_naming_and_the_renamed_event_fires(naming_plugin: object) -> None:
    renamed: list[tuple[str, str | None, str | None, str | None]] = naming_plugin.RENAMED  # type: ignore[attr-defined]
    policy = NamingPolicy(
        guardrails=["no-dogs", "shout"], fallbacks=["second", "third"], clean_manual_names=True
    )
    agent = Agent(model=ScriptedModel("reply", "my dog"), db="memory://", naming=policy)
    agent.run("hello", session_id="s1")

    session = agent.set_session_name(session_id="s1", autogenerate=True)
    # the model's "my dog" and the fallback's "a dog" are refused; the cat gets through
    assert (session.name, session.name_source) == ("A CAT", "third")
    agent.set_session_name(session_id="s1", session_name="Launch")
    assert renamed == [("s1", None, "A CAT", "third"), ("s1", "A CAT", "LAUNCH", "manual")]


def test_sessionary_naming_hooks_are_what_the_registries_read(naming_plugin: object) -> None:
    host = get_plugin_host()
    assert host.naming_guardrails().plugin_of("shout") == "fake-naming"
    assert host.naming_fallbacks().plugin_of("third") == "fake-naming"
    record = next(r for r in host.records if r.name == "fake-naming")
    assert set(record.hooks) == {
        "sessionary_naming_guardrails",
        "sessionary_naming_fallbacks",
        "sessionary_session_renamed",
    }


class TestCoreBuiltinGuardrail(NamingPolicyConformance):
    """The core's ``basic`` guardrail honours the contract it asks of plugins."""

    plugin = sessionary.builtins
    entry_point = "sessionary"  # the built-ins' plugin record
