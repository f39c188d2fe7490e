"""Agno: cookbook/agents/state/session_state_basic.py (imports and model changed)."""

from cookbook_config import model
from sessionary_sqlite import SqliteDb

from sessionary import Agent, RunContext, RunOutput  # noqa: F401


def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list."""
    if run_context.session_state is None:
        run_context.session_state = {}

    run_context.session_state["shopping_list"].append(item)  # type: ignore
    return f"The shopping list is now {run_context.session_state['shopping_list']}"  # type: ignore


# Create an Agent that maintains state
agent = Agent(
    model=model,
    # Initialize the session state with a counter starting at 0
    # (this is the default session state for all users)
    session_state={"shopping_list": []},
    db=SqliteDb(db_file="tmp/agents.db"),
    tools=[add_item],
    # You can use variables from the session state in the instructions
    instructions="Current state (shopping list) is: {shopping_list}",
    markdown=True,
)

# Example usage
agent.print_response("Add milk, eggs, and bread to the shopping list", stream=True)
print(f"Final session state: {agent.get_session_state()}")

# Alternatively,
# response: RunOutput = agent.run("Add milk, eggs, and bread to the shopping list")
# print(f"Final session state: {response.session_state}")
