"""Agno: cookbook/agents/state/manual_session_state_update.py (imports and model changed)."""

from cookbook_config import model
from sessionary_sqlite import SqliteDb

from sessionary import Agent, RunContext


def add_item(run_context: RunContext, item: str) -> str:
    """Add an item to the shopping list."""
    if run_context.session_state is None:
        run_context.session_state = {}

    run_context.session_state["shopping_list"].append(item)  # type: ignore
    return f"The shopping list is now {run_context.session_state['shopping_list']}"  # type: ignore


# Create an Agent that maintains state
agent = Agent(
    model=model,
    # Initialize the session state with an empty shopping list
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

current_session_state = agent.get_session_state()
current_session_state["shopping_list"].append("chocolate")
agent.update_session_state(current_session_state)

agent.print_response("What's on my list?", stream=True, debug_mode=True)

print(f"Final session state: {agent.get_session_state()}")
