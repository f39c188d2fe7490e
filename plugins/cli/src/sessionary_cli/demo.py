"""``sessionary demo``: a scripted conversation, offline, shown as an inbox and a transcript."""

from __future__ import annotations

import os

import click
from rich.console import Console

from sessionary.agent.agent import Agent
from sessionary.models.scripted import ScriptedModel, tool_call
from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import open_db
from sessionary.storage.base import Store
from sessionary.tools import tool
from sessionary_cli.errors import handle_errors
from sessionary_cli.render import inbox_table, print_transcript

__all__ = ["demo"]

DEFAULT_SQLITE = "sqlite:///tmp/sessionary-demo.db"
DEMO_SESSIONS = ("demo_alice_refund", "demo_bob_trip")


def default_url() -> str:
    """SQLite when its adapter is installed (the embedded default), else memory."""
    if "sqlite" in get_plugin_host().storage_by_scheme():
        return DEFAULT_SQLITE
    return "memory://"


def where(url: str, store: Store) -> str:
    """Where the store really is: a file-based store's absolute path, else its URL."""
    path = getattr(store, "path", None)
    if isinstance(path, str) and path and not path.startswith(":"):
        return f"{url} (the file {os.path.abspath(path)})"
    return url


def order_status(order_id: str) -> str:
    """Look up an order.

    Args:
        order_id: The order number, e.g. A-1001.
    """
    return {"A-1001": "delivered on 2026-11-20, damaged in transit"}.get(order_id, "unknown order")


@tool(requires_confirmation=True)
def issue_refund(order_id: str, amount: float) -> str:
    """Refund an order to the customer's card; a person approves it first.

    Args:
        order_id: The order number, e.g. A-1001.
        amount: The amount to refund, in euros.
    """
    return f"refunded {amount:.2f} EUR for {order_id}"


@click.command()
@click.option(
    "--db",
    "db_url",
    envvar="SESSIONARY_DB",
    metavar="URL",
    help=f"Store URL (default: $SESSIONARY_DB, else {DEFAULT_SQLITE}, a path relative to "
    "the current folder).",
)
@handle_errors
def demo(db_url: str | None) -> None:
    """Run two users' conversations with a scripted model; show the inbox by last activity,
    the approval queue (alice's refund waits for a person) and a transcript."""
    url = db_url or default_url()
    console = Console()
    with open_db(url) as store:
        for session_id in DEMO_SESSIONS:
            store.delete_session(session_id)
        model = ScriptedModel(
            tool_call("order_status", order_id="A-1001"),
            "Your order A-1001 arrived damaged. I am sorry.",
            "Lisbon in spring is lovely: mild weather and few crowds.",
            "Day 1: Alfama and the castle. Day 2: Belem. Day 3: Sintra.",
            tool_call("issue_refund", order_id="A-1001", amount=49.9),
        )
        support = Agent(
            model=model,
            db=store,
            id="support-bot",
            instructions="You are a helpful support agent.",
            tools=[order_status, issue_refund],
            add_history_to_context=True,
        )
        planner = Agent(model=model, db=store, id="travel-planner", add_history_to_context=True)
        support.run("My order A-1001 arrived broken.", session_id=DEMO_SESSIONS[0], user_id="alice")
        planner.run("Is Lisbon nice in April?", session_id=DEMO_SESSIONS[1], user_id="bob")
        planner.run("Plan three days for me.", session_id=DEMO_SESSIONS[1], user_id="bob")
        # alice's refund waits for a person: the run pauses, her session is the newest activity
        support.run("Please refund me.", session_id=DEMO_SESSIONS[0], user_id="alice")
        # renaming is not activity: bob's session, renamed last, stays below alice's
        support.set_session_name(
            session_id=DEMO_SESSIONS[0], session_name="Damaged order refund", user_id="alice"
        )
        planner.set_session_name(
            session_id=DEMO_SESSIONS[1], session_name="Lisbon spring trip", user_id="bob"
        )
        console.print(f"store: {where(url, store)}\n", highlight=False, soft_wrap=True)
        inbox = store.list_sessions(limit=10).items
        console.print(inbox_table(inbox, title="Inbox, by last activity", width=console.width))
        queue = store.list_sessions(has_paused=True, limit=10).items
        console.print(inbox_table(queue, title="Approval queue", width=console.width))
        for info in queue:
            waiting = store.get_session(info.session_id, user_id=info.user_id)
            paused = [] if waiting is None else [run for run in waiting.runs if run.is_paused]
            for need in (need for run in paused for need in run.active_requirements):
                arguments = ", ".join(f"{k}={v!r}" for k, v in need.tool_args.items())
                console.print(
                    f"  {info.session_id}: {need.tool_name}({arguments}) waits for approval",
                    highlight=False,
                )
        session = store.get_session(DEMO_SESSIONS[0], user_id="alice")
        assert session is not None
        console.print()
        print_transcript(console, session)
        history = support.get_chat_history(DEMO_SESSIONS[0], user_id="alice")
        console.print(
            f"\nalice's chat history has {len(history)} messages; "
            f"bob cannot see her session: "
            f"{store.get_session(DEMO_SESSIONS[0], user_id='bob') is None}"
        )
