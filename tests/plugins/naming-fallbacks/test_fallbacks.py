"""Each fallback's proposals, and an agent whose model fails named by them in order."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sessionary_naming_fallbacks import (
    FirstMessageFallback,
    KeywordFallback,
    TicketFallback,
    UntitledFallback,
)

from sessionary import Agent
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import ModelServerError
from sessionary.naming import NamingContext, NamingPolicy
from sessionary.testing import ScriptedModel

NOW = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone.utc).timestamp()


def ctx(*messages: tuple[str, str | None], **metadata: Any) -> NamingContext:
    return NamingContext(
        session=SessionInfo(session_id="s1", metadata=metadata),
        messages=[Message(role=role, content=content) for role, content in messages],
        now=NOW,
    )


# --------------------------------------------------------------------------- keywords


def test_keywords_name_the_topic_from_the_conversation() -> None:
    context = ctx(
        ("user", "Which database should I pick for the analytics dashboard?"),
        ("assistant", "For an analytics dashboard, a columnar database works well."),
        ("user", "Is the database cheap to host?"),
    )
    assert KeywordFallback().propose(context) == "Database Analytics Dashboard"


def test_keywords_leave_out_addresses_links_and_numbers() -> None:
    context = ctx(
        ("user", "Refund refund to ann@example.com, card 4111111111111111, see https://x.io/a"),
        ("user", "call +15551234567 about the refund"),
    )
    proposal = KeywordFallback().propose(context)
    assert proposal is not None
    assert not re.search(r"@|\d|example|https|ann", proposal, re.IGNORECASE)
    assert proposal.startswith("Refund")


def test_keywords_keep_acronyms_and_other_scripts() -> None:
    context = ctx(("user", "Настройка API сервера для API клиентов"))
    assert KeywordFallback().propose(context) == "Настройка API Сервера"


def test_keywords_have_nothing_to_say_about_small_talk() -> None:
    assert (
        KeywordFallback().propose(ctx(("user", "hi"), ("assistant", "Hello! How can I help?")))
        is None
    )
    assert KeywordFallback().propose(ctx()) is None


def test_keywords_count_is_configurable_and_checked() -> None:
    context = ctx(("user", "database analytics dashboard pricing"))
    assert KeywordFallback(max_words=2).propose(context) == "Database Analytics"
    with pytest.raises(ValueError, match="max_words"):
        KeywordFallback(max_words=0)


# --------------------------------------------------------------------------- ticket


def test_ticket_comes_from_metadata_in_key_order() -> None:
    assert TicketFallback().propose(ctx(ticket_id="SUP-1234")) == "Ticket SUP-1234"
    assert TicketFallback().propose(ctx(case_id=4711, ticket="ZD-9")) == "Ticket ZD-9"
    custom = TicketFallback(keys=["jira"], template="{ticket} follow-up")
    assert custom.propose(ctx(jira="OPS-7", ticket_id="X-1")) == "OPS-7 follow-up"


@pytest.mark.parametrize(
    "value", [None, True, {"$gt": ""}, ["SUP-1"], "", "   ", "a b", "x" * 80, "SUP\n1", 1.5]
)
def test_ticket_ignores_values_that_are_not_ticket_ids(value: Any) -> None:
    assert TicketFallback().propose(ctx(ticket_id=value)) is None


def test_ticket_options_are_checked() -> None:
    with pytest.raises(ValueError, match="template"):
        TicketFallback(template="Ticket")
    with pytest.raises(ValueError, match="keys"):
        TicketFallback(keys="ticket_id")


# --------------------------------------------------------------------------- first message


def test_first_message_is_the_first_user_line_shortened() -> None:
    context = ctx(
        ("assistant", "Welcome!"),
        ("user", None),
        ("user", "\n  My order arrived broken and I want my money back\nsecond line"),
    )
    assert FirstMessageFallback().propose(context) == "My order arrived broken and"
    assert FirstMessageFallback(max_words=2).propose(context) == "My order"
    assert FirstMessageFallback().propose(ctx(("assistant", "Only me"))) is None


# --------------------------------------------------------------------------- untitled


def test_untitled_is_dated_in_utc_when_the_name_is_decided() -> None:
    assert UntitledFallback().propose(ctx()) == "Untitled 2026-11-25"
    assert UntitledFallback(label="Chat").propose(ctx()) == "Chat 2026-11-25"
    undated = NamingContext(session=SessionInfo(session_id="s1"))
    assert re.fullmatch(r"Untitled \d{4}-\d{2}-\d{2}", UntitledFallback().propose(undated) or "")
    with pytest.raises(ValueError, match="label"):
        UntitledFallback(label=" ")


# --------------------------------------------------------------------------- in an agent


def test_the_installed_fallbacks_propose_in_their_order() -> None:
    pipeline = NamingPolicy(guardrails=[]).resolve()
    assert [f.name for f in pipeline.fallbacks] == [
        "keywords",
        "ticket",
        "first-message",
        "untitled",
    ]


def failing_agent() -> Agent:
    return Agent(
        model=ScriptedModel(ModelServerError("down"), ModelServerError("still down")),
        db="memory://",
        naming=NamingPolicy(guardrails=[]),
    )


def test_when_the_model_fails_the_keywords_name_the_session() -> None:
    agent = failing_agent()
    agent.db.append_run(
        Run(
            run_id="r1",
            session_id="s1",
            messages=[
                Message(role="user", content="Plan a trip to Lisbon in April"),
                Message(role="assistant", content="Lisbon in April is mild."),
            ],
        )
    )
    session = agent.set_session_name(session_id="s1", autogenerate=True)
    assert (session.name, session.name_source) == ("Plan Lisbon April", "keywords")


def test_without_messages_the_ticket_then_untitled_name_the_session() -> None:
    agent = failing_agent()
    agent.db.append_run(Run(run_id="r1", session_id="s1"))
    agent.db.append_run(Run(run_id="r2", session_id="s2"))
    agent.db.update_session("s1", metadata={"ticket_id": "SUP-1234"})
    named = agent.set_session_name(session_id="s1", autogenerate=True)
    assert (named.name, named.name_source) == ("Ticket SUP-1234", "ticket")
    untitled = agent.set_session_name(session_id="s2", autogenerate=True)
    assert untitled.name_source == "untitled"
    assert re.fullmatch(r"Untitled \d{4}-\d{2}-\d{2}", untitled.name or "")
