"""Storage clauses about hostile values: text that is not valid Unicode, nesting too deep."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import RunStatus
from sessionary.errors import InvalidInputError
from sessionary.storage.base import Store
from sessionary.storage.checks import MAX_DEPTH
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["InputClauses"]

#: A lone UTF-16 surrogate, as ``json.loads('"\\ud83d"')`` gives: no UTF-8 encoding exists.
LONE = "\ud83d"


def nested(levels: int) -> dict[str, Any]:
    """A mapping ``levels`` mappings deep (built without recursion)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


class InputClauses(SuiteBase):
    """Storage clauses about hostile values: text that is not valid Unicode, nesting too deep."""

    def test_lone_surrogates_in_a_run_are_refused_before_writing(self, store: Store) -> None:
        first = make_run("s1", user_id="u1")
        store.append_run(first)
        base = make_run("s1", user_id="u1")
        call = ToolCall(id="c1", name="search", arguments={"q": LONE})
        bad_runs = [
            attrs.evolve(base, input=f"hi {LONE}"),
            attrs.evolve(base, content=LONE),
            attrs.evolve(base, error=LONE),
            attrs.evolve(base, metadata={"k": [LONE]}),
            attrs.evolve(base, metadata={LONE: 1}),
            attrs.evolve(base, messages=(Message(role=Role.USER, content=LONE),)),
            attrs.evolve(base, messages=(Message(role=Role.ASSISTANT, tool_calls=(call,)),)),
        ]
        for bad in bad_runs:
            with pytest.raises(InvalidInputError, match="surrogate"):
                store.append_run(bad)
            with pytest.raises(InvalidInputError, match="surrogate"):
                store.append_run(attrs.evolve(bad, session_id="fresh"))
        paused = make_run("s1", user_id="u1", status=RunStatus.PAUSED)
        store.append_run(paused)
        with pytest.raises(InvalidInputError, match="surrogate"):
            store.update_run(attrs.evolve(paused, content=LONE), expected_version=1)
        info = store.get_session_info("s1")
        assert info is not None and (info.run_count, info.version) == (2, 2)
        assert store.get_session_info("fresh") is None
        assert store.get_runs("s1") == [first, paused]

    def test_lone_surrogates_in_a_session_are_refused_before_writing(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="u1"))
        for changes in (
            {"name": f"chat {LONE}"},
            {"state": {"k": LONE}},
            {"state": {"deep": [{"x": LONE}]}},
            {"metadata": {LONE: "v"}},
        ):
            with pytest.raises(InvalidInputError, match="surrogate"):
                store.update_session("s1", user_id="u1", **changes)
        info = store.get_session_info("s1")
        assert info is not None and info.version == 1 and info.name is None
        assert info.state == {} and info.metadata == {}

    def test_nesting_deeper_than_the_limit_is_refused_naming_it(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="u1"))
        for levels in (MAX_DEPTH + 1, 5000):
            with pytest.raises(InvalidInputError, match=f"{MAX_DEPTH} levels"):
                store.update_session("s1", state=nested(levels))
            with pytest.raises(InvalidInputError, match=f"{MAX_DEPTH} levels"):
                store.update_session("s1", metadata={"m": [nested(levels)]})
            with pytest.raises(InvalidInputError, match=f"{MAX_DEPTH} levels"):
                store.append_run(attrs.evolve(make_run("s1"), metadata=nested(levels)))
        info = store.get_session_info("s1")
        assert info is not None and (info.run_count, info.version) == (1, 1)
        # At the limit, state is stored and read back as it was.
        info = store.update_session("s1", state=nested(MAX_DEPTH))
        assert info.state == nested(MAX_DEPTH)
        stored = store.get_session_info("s1")
        assert stored is not None and stored.state == nested(MAX_DEPTH)
