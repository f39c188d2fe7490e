"""Storage clauses about reads of the tail: the last messages, tolerant reads that skip a
corrupt run, and the message fields a framework relies on (its payload, ``developer``)."""

from __future__ import annotations

import logging
import math
from typing import Any

import attrs
import pytest

from sessionary import codec, codec_fast
from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionType
from sessionary.errors import CorruptRecordError, InvalidInputError
from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["TailReadClauses"]


def _talk(session_id: str, count: int, *, text: str = "m", **kwargs: Any) -> Run:
    """A run of ``count`` messages, alternating user and assistant."""
    run = make_run(session_id, text=text, **kwargs)
    messages = tuple(
        Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT, content=f"{text}{i}")
        for i in range(count)
    )
    return attrs.evolve(run, messages=messages)


#: A payload as a framework stores it: nested JSON of every kind.
PAYLOAD = {
    "type": "function_call_output",
    "call_id": "call_1",
    "output": [{"type": "input_text", "text": "ünï 🚀"}, None, True, 0, -1.5, 10**15],
    "nested": {"a.b": {"$x": []}, "": {}},
}


class TailReadClauses(SuiteBase):
    """``get_messages``, ``skip_corrupt``, ``Message.payload`` and ``Role.DEVELOPER``."""

    # ------------------------------------------------------------------ get_messages

    def test_get_messages_reads_the_last_messages_across_runs(self, store: Store) -> None:
        for count, text in ((3, "a"), (0, "b"), (1, "c"), (4, "d"), (0, "e")):
            store.append_run(_talk("s1", count, text=text, user_id="u"))
        whole = store.get_session("s1")
        assert whole is not None
        every = whole.get_messages()
        assert [m.content for m in every] == ["a0", "a1", "a2", "c0", "d0", "d1", "d2", "d3"]
        assert store.get_messages("s1") == every
        for last_n in (0, 1, 2, 4, 5, 7, 8, 9, 100):
            expected = every[max(0, len(every) - last_n) :] if last_n else []
            assert store.get_messages("s1", last_n=last_n) == expected, last_n
            assert store.get_messages("s1", user_id="u", last_n=last_n) == expected

    def test_get_messages_of_a_missing_or_foreign_session_is_empty(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="alice"))
        assert store.get_messages("nope") == []
        assert store.get_messages("s1", user_id="bob", last_n=5) == []
        assert len(store.get_messages("s1", user_id="alice")) == 2

    def test_get_messages_of_a_team_session_holds_its_members_runs(self, store: Store) -> None:
        team = _talk("t1", 2, text="lead", agent_id=None, team_id="team-1")
        store.append_run(team, session_type=SessionType.TEAM)
        member = _talk("t1", 3, text="member", parent_run_id=team.run_id)
        store.append_run(member, session_type=SessionType.TEAM)
        session = store.get_session("t1")
        assert session is not None
        assert store.get_messages("t1", last_n=4) == session.get_messages()[-4:]

    def test_get_messages_decodes_about_last_n_messages(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store.append_run(_talk("s1", 300, text="big"))
        for i in range(30):
            store.append_run(_talk("s1", 1, text=f"small{i}-"))
        store.append_run(_talk("s1", 200, text="last"))
        decoded = [0]
        real = codec.decode_message

        def counting(data: Any) -> Message:
            decoded[0] += 1
            return real(data)

        def counted(decode: Any) -> Any:
            def decoding(text: Any) -> list[Message] | None:
                messages: list[Message] | None = decode(text)
                decoded[0] += len(messages or ())
                return messages

            return decoding

        # Every way a message is decoded: the strict decoder, msgspec's per message, and
        # msgspec's over a whole (short) run.
        monkeypatch.setattr(codec, "decode_message", counting)
        for name in ("fast_messages", "whole_messages"):
            monkeypatch.setattr(codec_fast, name, counted(getattr(codec_fast, name)))
        messages = store.get_messages("s1", last_n=20)
        assert [m.content for m in messages] == [f"last{i}" for i in range(180, 200)]
        assert decoded[0] <= 40, f"get_messages(last_n=20) decoded {decoded[0]} messages"
        decoded[0] = 0
        messages = store.get_messages("s1", last_n=205)
        assert messages[0].content == "small25-0" and len(messages) == 205
        assert decoded[0] <= 250, f"get_messages(last_n=205) decoded {decoded[0]} messages"

    @pytest.mark.parametrize(
        "kwargs",
        [{"last_n": -1}, {"last_n": True}, {"last_n": "3"}, {"skip_corrupt": 1}, {"user_id": ""}],
        ids=repr,
    )
    def test_get_messages_arguments_are_checked(self, store: Store, kwargs: Any) -> None:
        with pytest.raises(InvalidInputError):
            store.get_messages("s1", **kwargs)

    # ------------------------------------------------------------------ skip_corrupt

    def test_a_tolerant_read_skips_a_corrupt_run_and_names_it(
        self, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        damaged = make_run("s1", user_id="u", text="damaged")
        store.append_run(damaged)
        self.corrupt_run_record(store, "s1")
        later = [make_run("s1", user_id="u", text=f"later {i}") for i in range(2)]
        for run in later:
            store.append_run(run)
        with pytest.raises(CorruptRecordError):
            store.get_session("s1")
        with pytest.raises(CorruptRecordError):
            store.get_messages("s1")
        with caplog.at_level(logging.WARNING):
            session = store.get_session("s1", user_id="u", skip_corrupt=True)
        assert session is not None and list(session.runs) == later
        assert session.run_count == 3, "the summary still counts every stored run"
        assert len(session.skipped_runs) == 1
        assert session.skipped_runs[0] in (damaged.run_id, "#1"), session.skipped_runs
        assert "s1" in caplog.text
        assert store.get_runs("s1", skip_corrupt=True) == later
        assert store.get_runs("s1", last_n=1, skip_corrupt=True) == later[1:]
        tail = store.get_session("s1", last_n_runs=2, skip_corrupt=True)
        assert tail is not None and tail.skipped_runs == () and list(tail.runs) == later
        expected = [m for run in later for m in run.messages]
        assert store.get_messages("s1", skip_corrupt=True) == expected
        assert store.get_messages("s1", last_n=4) == expected  # the damage is not read

    def test_a_healthy_read_skips_nothing(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        session = store.get_session("s1", skip_corrupt=True)
        assert session is not None and session.skipped_runs == () and len(session.runs) == 1
        plain = store.get_session("s1")
        assert plain is not None and plain.skipped_runs == ()
        with pytest.raises(InvalidInputError):
            store.get_session("s1", skip_corrupt="yes")  # type: ignore[arg-type]

    # ------------------------------------------------------------------ message fields

    def test_payload_and_developer_role_round_trip_exactly(self, store: Store) -> None:
        run = make_run("s1")
        messages = (
            Message(role=Role.DEVELOPER, content="Be terse.", created_at=1.0),
            Message(role=Role.USER, content="hi", payload=PAYLOAD, created_at=2.0),
            Message(role=Role.ASSISTANT, content=None, payload={"k": []}, created_at=3.0),
        )
        run = attrs.evolve(run, messages=messages)
        store.append_run(run)
        assert store.get_run("s1", run.run_id) == run
        assert store.get_messages("s1") == list(messages)
        session = store.get_session("s1")
        assert session is not None and session.runs[0].messages[1].payload == PAYLOAD
        assert session.runs[0].messages[0].role is Role.DEVELOPER

    @pytest.mark.parametrize(
        "payload",
        [{"t": (1, 2)}, {"n": math.nan}, {"i": math.inf}, {1: "x"}, {"s": {1}}, ["list"]],
        ids=repr,
    )
    def test_a_payload_that_would_not_come_back_exactly_is_refused(
        self, store: Store, payload: Any
    ) -> None:
        run = make_run("s1")
        message = Message(role=Role.USER, content="x", payload=payload)
        with pytest.raises(InvalidInputError):
            store.append_run(attrs.evolve(run, messages=(message,)))
        assert store.get_session("s1") is None
