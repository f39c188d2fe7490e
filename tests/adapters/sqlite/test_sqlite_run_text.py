"""The run text SqliteDb stores: written by msgspec, read as the standard ``json`` reads it."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from sessionary_sqlite import SqliteDb
from sessionary_sqlite.rows import dump_json, encode_run_text

from sessionary.codec import encode_run
from sessionary.domain.messages import Message, Role
from sessionary.testing.storage_data import make_run, rich_run

#: What a run's free-form fields can hold, at the edges of what JSON numbers and text are.
_EDGES = {
    "floats": [0.1, -0.0, 1e16, 1.5e-7, 5e-324, 1.7976931348623157e308],
    "ints": [0, -1, 2**63, -(2**63) - 1, 2**70],
    "text": ["", "ünï 🚀", '\u2028\x00\x1f"\\/<>', "\U0001f680"],
    "tuple": (1, (2, [3])),
    "nested": {"a": {"b": [None, True, False]}},
}


def test_the_stored_text_is_the_json_the_standard_encoder_writes() -> None:
    runs = [
        rich_run("s1"),
        attrs.evolve(make_run("s1"), metadata=_EDGES),
        attrs.evolve(
            make_run("s1"),
            messages=(Message(role=Role.USER, content="hi", payload={"edges": _EDGES}),),
        ),
    ]
    for run in runs:
        text = encode_run_text(run)
        standard = dump_json(encode_run(run), "run")
        assert json.loads(text) == json.loads(standard)
        assert text.isascii() == standard.isascii()  # non-ASCII text is kept, not escaped


def test_text_no_encoder_can_write_as_utf8_takes_the_standard_way() -> None:
    # A lone surrogate never passes the store's checks; the text function itself still
    # writes it with ASCII escapes, as before, so it comes back exactly.
    run = attrs.evolve(make_run("s1"), content="a\ud800b")
    text = encode_run_text(run)
    assert text == dump_json(encode_run(run), "run")
    assert "\\ud800" in text and json.loads(text)["content"] == "a\ud800b"


def test_runs_written_so_read_back_equal(tmp_path: Path) -> None:
    db = SqliteDb(db_file=tmp_path / "a.db")
    run = attrs.evolve(rich_run("s1"), metadata=_EDGES)
    db.append_run(run)
    stored = db.get_run("s1", run.run_id)
    session = db.get_session("s1")
    db.close()
    expected = json.loads(dump_json(encode_run(run), "run"))
    assert stored is not None and session is not None
    assert json.loads(encode_run_text(stored)) == expected
    assert json.loads(encode_run_text(session.runs[0])) == expected
