"""A support desk for the web inbox's tests, docs screenshots and benchmark.

:class:`DeskModel` is a deterministic model: it asks to refund when a message says
``refund ORDER AMOUNT`` (a tool that needs confirmation, so the run pauses), reports a
tool's result once the tool ran, and acknowledges anything else. :func:`seed` fills a
store with the sessions the tests look at, hostile names included.
"""

from __future__ import annotations

import re
from typing import ClassVar

from sessionary import Agent, tool
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.models.base import Model, ModelRequest, ModelResponse
from sessionary.storage.base import Store

__all__ = ["HOSTILE_MESSAGE", "HOSTILE_NAME", "DeskModel", "desk_agent", "refund", "seed"]

#: A name and a message that would run script if the page inserted them as HTML.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">'
HOSTILE_MESSAGE = "<script>window.__pwned=2</script> order_status please"
_REFUND = re.compile(r"refund (\S+) (\d+(?:\.\d+)?)")


@tool(requires_confirmation=True)
def refund(order_id: str, amount: float) -> str:
    """Refund an order (a person confirms it first).

    Args:
        order_id: The order number.
        amount: How much to refund.
    """
    return f"refunded {amount:.2f} on {order_id}"


def order_status(order_id: str) -> str:
    """Look up an order.

    Args:
        order_id: The order number.
    """
    return f"{order_id}: delivered, damaged in transit"


class DeskModel(Model):
    """Refunds ask for confirmation; tool results are reported; the rest is acknowledged."""

    provider: ClassVar[str] = "desk"

    def __init__(self, id: str = "desk") -> None:
        self.id = id

    def respond(self, request: ModelRequest) -> ModelResponse:
        last = request.messages[-1]
        calls: tuple[ToolCall, ...] = ()
        content: str | None = None
        if last.role is Role.TOOL:
            content = f"Done: {last.content}"
        else:
            text = last.content or ""
            wanted = _REFUND.search(text)
            if wanted:
                arguments = {"order_id": wanted.group(1), "amount": float(wanted.group(2))}
                calls = (
                    ToolCall(
                        id=f"call-{len(request.messages)}", name="refund", arguments=arguments
                    ),
                )
            elif "order_status" in text:
                calls = (
                    ToolCall(
                        id="call-status", name="order_status", arguments={"order_id": "A-1001"}
                    ),
                )
            else:
                content = f"Noted: {text}"
        return ModelResponse(
            message=Message(role=Role.ASSISTANT, content=content, tool_calls=calls)
        )


def desk_agent(db: Store | str) -> Agent:
    """The support desk's agent on ``db``."""
    return Agent(model=DeskModel(), db=db, id="support-desk", tools=[refund, order_status])


def seed(agent: Agent) -> dict[str, str]:
    """Sessions of five users: named, unnamed, hostile, and two paused refunds.

    Returns the session IDs by role: ``named``, ``hostile``, ``paused_a``, ``paused_b``,
    ``unnamed``.
    """
    ids = {
        "named": "desk-alice",
        "hostile": "desk-mallory",
        "unnamed": "desk-erin",
        "paused_a": "desk-carol",
        "paused_b": "desk-dave",
    }
    agent.run(
        "My order A-1001 arrived broken, order_status?", session_id=ids["named"], user_id="alice"
    )
    agent.run("Thanks, what now?", session_id=ids["named"], user_id="alice")
    agent.set_session_name(session_id=ids["named"], session_name="Damaged order", user_id="alice")
    agent.run(HOSTILE_MESSAGE, session_id=ids["hostile"], user_id="mallory")
    agent.db.update_session(
        ids["hostile"], user_id="mallory", name=HOSTILE_NAME, name_source="manual"
    )
    agent.run("Where is my parcel?", session_id=ids["unnamed"], user_id="erin")
    agent.run("Please refund C-3003 25", session_id=ids["paused_a"], user_id="carol")
    agent.set_session_name(
        session_id=ids["paused_a"], session_name="Refund for Carol", user_id="carol"
    )
    agent.run("Please refund D-4004 90", session_id=ids["paused_b"], user_id="dave")
    agent.set_session_name(
        session_id=ids["paused_b"], session_name="Refund for Dave", user_id="dave"
    )
    return ids
