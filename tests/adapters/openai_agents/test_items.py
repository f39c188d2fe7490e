"""message_of keeps its own copy of an item: the one ``json.loads(json.dumps(item))`` gives."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from sessionary_openai_agents.items import ItemError, message_of

ITEMS: list[dict[Any, Any]] = [
    {"role": "user", "content": "ünï 🚀 \u2028", "n": [2**70, -0.0, 1e16, 5e-324, True, None]},
    {"type": "function_call", "call_id": "c", "name": "f", "arguments": '{"q": 1}'},
    {"role": "user", "content": "a lone \ud800 surrogate"},  # msgspec refuses its escape
    {"role": "user", "content": "x", 1: "an int key", "t": (1, [2, (3,)])},
]


@pytest.mark.parametrize("item", ITEMS, ids=["edges", "call", "surrogate", "int key"])
def test_the_payload_is_the_json_round_trip_of_the_item_and_a_copy(item: dict[Any, Any]) -> None:
    message = message_of(item, 1.0)
    assert message.payload == json.loads(json.dumps(item))
    assert message.payload is not item
    item["role"] = "changed"
    assert message.payload is not None and message.payload.get("role") != "changed"


@pytest.mark.parametrize("bad", [{"x": math.nan}, {"x": object()}, {"x": {1, 2}}, {(1,): "x"}])
def test_what_json_refuses_is_an_item_error(bad: dict[Any, Any]) -> None:
    with pytest.raises(ItemError, match="not JSON-serialisable"):
        message_of(bad)
