"""The one-pass JSON decoders behind :mod:`sessionary.codec`'s readers of JSON text.

msgspec decodes a record's JSON text straight into the domain objects, checking every
field's type in C: several times faster than :func:`json.loads` and the strict decoders.
Each function here returns ``None`` where that pass cannot give the strict decoder's
answer (a record it refuses, or one that lacks a field it would fill with a default:
a run's ``status``, a ``created_at``); :mod:`sessionary.codec` then decodes the record
the strict way, which says what is wrong.
"""

from __future__ import annotations

import time

import msgspec

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run

__all__ = ["fast_message", "fast_run", "message_texts"]


class _RunMessages(msgspec.Struct):
    """A run's JSON as a message-level read sees it: its messages, each still JSON text."""

    messages: list[msgspec.Raw] = []


_RUN = msgspec.json.Decoder(Run)
_MESSAGE = msgspec.json.Decoder(Message)
_RUN_MESSAGES = msgspec.json.Decoder(_RunMessages)


def fast_run(text: str | bytes) -> Run | None:
    """The run of a run's JSON text, or ``None`` (decode it the strict way)."""
    before = time.time()
    try:
        run = _RUN.decode(text)
    except msgspec.MsgspecError:
        return None
    # The fast pass fills a missing field with the class's default: COMPLETED for the
    # status and the current time for a timestamp, where decode_run refuses or reads 0.
    # A stored timestamp is older than this decode; one that is not came from a default
    # (or a writer whose clock runs ahead: decode_run then reads it, with the same result).
    if run.created_at >= before or run.updated_at >= before:
        return None
    for message in run.messages:
        if message.created_at >= before:
            return None
    present = b'"status":' in text if isinstance(text, bytes) else '"status":' in text
    return run if present else None


def fast_message(text: str | bytes | msgspec.Raw) -> Message | None:
    """The message of a message's JSON text, or ``None`` (decode it the strict way)."""
    before = time.time()
    try:
        message = _MESSAGE.decode(text)
    except msgspec.MsgspecError:
        return None
    return None if message.created_at >= before else message  # see fast_run


def message_texts(text: str | bytes) -> list[msgspec.Raw] | None:
    """The JSON text of each message of a run's JSON text, the rest skipped unparsed; or
    ``None`` when the text is not a JSON object with a list of messages."""
    try:
        return _RUN_MESSAGES.decode(text).messages
    except msgspec.MsgspecError:
        return None
