"""Answers from the approvals view, applied through each requirement's own checks."""

from __future__ import annotations

import pytest

from sessionary.domain.messages import ToolCall
from sessionary.domain.runs import Requirement
from sessionary.errors import InvalidInputError


def _requirements() -> list[Requirement]:
    call = ToolCall(id="c", name="ship", arguments={"to": "Oslo"})
    return [
        Requirement(id="ok", kind="confirmation", tool_call=call),
        Requirement(id="ask", kind="user_input", tool_call=call, user_input_fields=["date"]),
        Requirement(id="ext", kind="external_execution", tool_call=call),
    ]


def test_each_kind_of_answer_is_recorded() -> None:
    from sessionary_web.source import answer

    done = answer(
        _requirements(),
        [
            {"id": "ok", "action": "reject", "note": "not today"},
            {"id": "ask", "action": "input", "values": {"date": "2026-12-24"}},
            {"id": "ext", "action": "result", "result": "shipped"},
        ],
    )
    assert [(r.resolution, r.note) for r in done] == [
        ("rejected", "not today"),
        ("user_input", None),
        ("external_result", None),
    ]
    assert done[1].user_input == {"date": "2026-12-24"}
    assert done[2].external_result == "shipped"


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        ({"id": "ok"}, "must be a list"),
        ([{"id": "nope", "action": "confirm"}], "no unanswered requirement 'nope'"),
        ([{"id": "ok", "action": "approve"}], "action must be confirm"),
        ([{"id": "ask", "action": "confirm"}], "answers a confirmation requirement"),
        ([{"id": "ask", "action": "input", "values": {"when": 1}}], "unknown user input"),
        ([{"id": "ok", "action": "reject", "note": 5}], "note must be a str"),
    ],
)
def test_a_bad_answer_is_refused_naming_what_is_wrong(answers: object, says: str) -> None:
    from sessionary_web.source import answer

    with pytest.raises(InvalidInputError, match=says):
        answer(_requirements(), answers)
