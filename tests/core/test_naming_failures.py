"""Naming never fails silently (issue 23 items 1 and 2), and manual names are stored as
given (issue 19 item 5).

- Two plugins claiming one naming-policy name: ``sessionary plugins`` marks both rows,
  ``sessionary doctor`` exits non-zero naming both, and a clash among fallbacks does not
  stop a manual rename (which uses no fallback).
- A guardrail with a bug is a :class:`NamingPluginError` naming its plugin, logged with
  its traceback and counted in the decision, never the user's invalid name.
- A manual name is stripped of control characters and surrounding whitespace, capped at
  200 characters, and otherwise stored as given: a guardrail that would change it
  rejects it, unless the policy opts in to cleaning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import ClassVar

import pytest
from click.testing import CliRunner
from sessionary_cli import main

from sessionary import Agent
from sessionary.errors import DuplicatePluginError
from sessionary.naming import (
    InvalidNameError,
    NamingContext,
    NamingFallback,
    NamingGuardrail,
    NamingPolicy,
    autoname_many,
    autoname_session,
    find_candidates,
)
from sessionary.naming.policy import NamingPluginError
from sessionary.testing import ScriptedModel

MakePlugin = Callable[[str, str], None]

FALLBACK_PLUGIN = """
from sessionary import hookimpl
from sessionary.naming import NamingFallback


class Ticket(NamingFallback):
    '''Claims the built-in fallback's name.'''
    name = "ticket"
    order = 5

    def propose(self, context):
        return None


@hookimpl
def sessionary_naming_fallbacks():
    return [Ticket]
"""

BROKEN_GUARDRAIL_PLUGIN = """
from sessionary import hookimpl
from sessionary.naming import NamingGuardrail


class Buggy(NamingGuardrail):
    '''A guardrail with a bug.'''
    name = "buggy"
    order = 5

    def check(self, proposal, context):
        raise ValueError("bad index in my regex table")


@hookimpl
def sessionary_naming_guardrails():
    return [Buggy]
"""


def one_run(agent: Agent, session_id: str = "s1") -> None:
    agent.run("My parcel arrived damaged, I want a refund", session_id=session_id)


# --------------------------------------------------------------------------- clashes


def test_two_plugins_claiming_one_fallback_name_are_reported_by_plugins_and_doctor(
    install_plugin: MakePlugin,
) -> None:
    install_plugin("tickets-one", FALLBACK_PLUGIN)
    install_plugin("tickets-two", FALLBACK_PLUGIN)
    listed = CliRunner().invoke(main, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    records = {r["name"]: r for r in json.loads(listed.output)}
    for name in ("tickets-one", "tickets-two"):
        assert records[name]["status"] == "clash"
        assert "naming fallback 'ticket' is registered 3 times" in records[name]["error"]
        assert "'tickets-one'" in records[name]["error"]
        assert "'tickets-two'" in records[name]["error"]

    doctor = CliRunner().invoke(main, ["doctor"], env={"COLUMNS": "400"})
    assert doctor.exit_code != 0, doctor.output
    flat = " ".join(doctor.output.split())
    for name in ("tickets-one", "tickets-two"):
        assert f"plugin {name} 1.2.3 │ clash: naming fallback 'ticket' is registered 3" in flat


def test_a_fallback_clash_does_not_stop_a_manual_rename(install_plugin: MakePlugin) -> None:
    install_plugin("tickets-one", FALLBACK_PLUGIN)
    install_plugin("tickets-two", FALLBACK_PLUGIN)
    agent = Agent(model=ScriptedModel("On it.", "Damaged Parcel Refund"), db="memory://")
    one_run(agent)
    session = agent.set_session_name(session_id="s1", session_name="Parcel refund")
    assert (session.name, session.name_source) == ("Parcel refund", "manual")
    # A model name needs no fallback either; only naming that falls back meets the clash.
    named = agent.set_session_name(session_id="s1", autogenerate=True)
    assert named.name == "Damaged Parcel Refund"
    agent.model = ScriptedModel("")  # an empty answer: the fallbacks would be asked
    with pytest.raises(DuplicatePluginError, match="naming fallback 'ticket' is registered twice"):
        agent.set_session_name(session_id="s1", autogenerate=True)


# --------------------------------------------------------------------------- broken plugins


def test_a_crashing_guardrail_is_a_plugin_error_naming_the_plugin_not_an_invalid_name(
    install_plugin: MakePlugin, caplog: pytest.LogCaptureFixture
) -> None:
    install_plugin("buggy-naming", BROKEN_GUARDRAIL_PLUGIN)
    agent = Agent(model=ScriptedModel("On it.", "Damaged Parcel Refund"), db="memory://")
    one_run(agent)
    with (
        caplog.at_level(logging.ERROR, logger="sessionary.naming"),
        pytest.raises(NamingPluginError) as caught,
    ):
        agent.set_session_name(session_id="s1", session_name="Parcel refund")
    error = caught.value
    assert not isinstance(error, InvalidNameError)
    assert (error.policy, error.plugin) == ("buggy", "buggy-naming")
    assert "plugin 'buggy-naming'" in str(error)
    assert "ValueError: bad index in my regex table" in str(error)
    assert isinstance(error.__cause__, ValueError)
    [record] = [r for r in caplog.records if r.name == "sessionary.naming"]
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert agent.get_session_name(session_id="s1") is None


def test_a_crashing_guardrail_stops_autonaming_and_is_counted(
    install_plugin: MakePlugin,
) -> None:
    install_plugin("buggy-naming", BROKEN_GUARDRAIL_PLUGIN)
    agent = Agent(model=ScriptedModel("On it.", "Damaged Parcel Refund"), db="memory://")
    one_run(agent)
    session = agent.set_session_name(session_id="s1", autogenerate=True)
    assert session.name is None  # no name the broken guardrail could not check is stored
    report = autoname_many(
        agent.db,
        find_candidates(agent.db),
        model=ScriptedModel("Damaged Parcel Refund"),
        pipeline=NamingPolicy().resolve(),
    )
    assert report.unnamed == 1
    [(message, count)] = report.plugin_errors.items()
    assert count == 1
    assert "naming guardrail 'buggy'" in message and "plugin 'buggy-naming'" in message


class Crashing(NamingFallback):
    """A fallback with a bug."""

    name: ClassVar[str] = "crashing"

    def propose(self, context: NamingContext) -> str | None:
        raise KeyError("ticket_id")


class Fixed(NamingFallback):
    """Always proposes."""

    name: ClassVar[str] = "fixed"

    def propose(self, context: NamingContext) -> str | None:
        return "Fixed name"


def test_a_crashing_fallback_is_skipped_and_recorded() -> None:
    policy = NamingPolicy(guardrails=[], fallbacks=[Crashing, Fixed])
    agent = Agent(model=ScriptedModel("On it."), db="memory://", naming=policy)
    one_run(agent)
    outcome = autoname_session(agent.db, "s1", user_id=None, model=None, pipeline=policy.resolve())
    assert outcome.session.name == "Fixed name"
    assert outcome.decision is not None
    [error] = outcome.decision.plugin_errors
    assert "naming fallback 'crashing'" in str(error) and "passed by the application" in str(error)
    assert isinstance(error.__cause__, KeyError)


# --------------------------------------------------------------------------- manual names

LONG = "Refund for order A-1001, customer waiting since Monday"


def test_a_manual_name_is_stored_as_given_through_the_installed_guardrails() -> None:
    agent = Agent(model=ScriptedModel("On it."), db="memory://", naming=NamingPolicy())
    one_run(agent)
    session = agent.set_session_name(session_id="s1", session_name=f"  {LONG}\x00\n")
    assert (session.name, session.name_source) == (LONG, "manual")
    capped = agent.set_session_name(session_id="s1", session_name="word " * 60)
    assert capped.name is not None and len(capped.name) <= 200


class Upper(NamingGuardrail):
    """Upper-cases every name."""

    name: ClassVar[str] = "upper"

    def check(self, proposal: str, context: NamingContext) -> str:
        return proposal.upper()


def test_a_guardrail_that_would_change_a_manual_name_rejects_it_unless_cleaning_is_on() -> None:
    agent = Agent(
        model=ScriptedModel("On it."),
        db="memory://",
        naming=NamingPolicy(guardrails=[Upper], fallbacks=[]),
    )
    one_run(agent)
    with pytest.raises(InvalidNameError, match="upper: would change it to 'PARCEL REFUND'"):
        agent.set_session_name(session_id="s1", session_name="Parcel refund")
    assert agent.get_session_name(session_id="s1") is None
    agent.naming = NamingPolicy(guardrails=[Upper], fallbacks=[], clean_manual_names=True)
    assert agent.set_session_name(session_id="s1", session_name="Parcel refund").name == (
        "PARCEL REFUND"
    )


def test_personal_data_in_a_manual_name_is_refused_not_removed() -> None:
    agent = Agent(model=ScriptedModel("On it."), db="memory://", naming=NamingPolicy())
    one_run(agent)
    with pytest.raises(InvalidNameError, match="pii: would change it to 'Call about the refund'"):
        agent.set_session_name(
            session_id="s1", session_name="Call ann@example.com about the refund"
        )
    agent.naming = NamingPolicy(clean_manual_names=True)
    session = agent.set_session_name(
        session_id="s1", session_name="Call ann@example.com about the refund today please"
    )
    assert session.name == "Call about the refund today please"  # no 5-word cut either
