"""A small RESP3 reader and writer for the one connection the session watcher owns.

redis-py hides push messages behind version-specific parser hooks; the watcher needs
them in exactly the order the server sent them, interleaved with replies, and needs
to read "whatever has arrived, without waiting". So it speaks RESP3 itself on a
socket redis-py connected (handshake, AUTH, TLS and SELECT stay redis-py's), with
this module: :func:`pack` encodes a command, :func:`parse` decodes one frame.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Incomplete", "ProtocolError", "Push", "ReplyError", "pack", "parse"]


class Push(list[Any]):
    """An out-of-band push message (``>``), such as ``["invalidate", [key, ...]]``."""


class ReplyError(str):
    """An error reply (``-ERR ...`` or a blob error), as its text."""

    __slots__ = ()


class ProtocolError(Exception):
    """The server sent something that is not RESP3."""


class Incomplete(Exception):
    """The buffer ends inside a frame: more bytes are needed."""


def pack(*args: str | bytes | int) -> bytes:
    """One command as a RESP array of bulk strings.

    >>> pack("HMGET", "k", "version")
    b'*3\\r\\n$5\\r\\nHMGET\\r\\n$1\\r\\nk\\r\\n$7\\r\\nversion\\r\\n'
    """
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def parse(buf: bytes | bytearray, pos: int = 0) -> tuple[Any, int]:
    """The frame that starts at ``pos`` and the position after it.

    Raises :class:`Incomplete` if the buffer ends inside the frame, and
    :class:`ProtocolError` for bytes that are not RESP3. Bulk strings stay ``bytes``.

    >>> parse(b">2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n")
    ([b'invalidate', [b'k']], 32)
    >>> parse(b"$5\\r\\nhel")
    Traceback (most recent call last):
    ...
    sessionary_redis.resp3.Incomplete
    """
    kind = buf[pos : pos + 1]
    if kind == b"*" or kind == b">":
        # The common frames (HMGET, a script's reply, invalidations) are arrays of bulk
        # strings: read those items here instead of one call each.
        end = buf.find(b"\r\n", pos)
        if end >= 0:
            try:
                count = int(buf[pos + 1 : end])
            except ValueError:
                count = -1  # the general reader says what was wrong
            if count >= 0:
                items, pos = _array(buf, end + 2, count)
                return (items if kind == b"*" else Push(items)), pos
    return _frame(buf, pos)


def _array(buf: bytes | bytearray, pos: int, count: int) -> tuple[list[Any], int]:
    """The ``count`` items of an array starting at ``pos``, bulk strings read inline."""
    items: list[Any] = []
    append = items.append
    find = buf.find
    size_buf = len(buf)
    for _ in range(count):
        if pos >= size_buf:
            raise Incomplete
        kind = buf[pos]
        if kind != 36:  # not "$"
            if kind == 95 and buf[pos + 1 : pos + 3] == b"\r\n":  # "_": a null
                append(None)
                pos += 3
                continue
            item, pos = parse(buf, pos)  # anything else the general way
            append(item)
            continue
        end = find(b"\r\n", pos)
        if end < 0:
            raise Incomplete
        try:
            size = int(buf[pos + 1 : end])
        except ValueError as exc:
            line = bytes(buf[pos + 1 : end])
            raise ProtocolError(f"malformed {b'$'!r} frame: {line[:40]!r}") from exc
        pos = end + 2
        if size < 0:
            append(None)
            continue
        if size_buf < pos + size + 2:
            raise Incomplete
        append(bytes(buf[pos : pos + size]))
        pos += size + 2
    return items, pos


def _frame(buf: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """:func:`parse` for every frame type."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind = buf[pos : pos + 1]
    line = bytes(buf[pos + 1 : end])
    pos = end + 2
    try:
        if kind in (b"$", b"=", b"!"):
            size = int(line)
            if size < 0:
                return None, pos
            if len(buf) < pos + size + 2:
                raise Incomplete
            data = bytes(buf[pos : pos + size])
            pos += size + 2
            if kind == b"!":
                return ReplyError(data.decode("utf-8", "replace")), pos
            return (data[4:] if kind == b"=" else data), pos
        if kind in (b"*", b">", b"~", b"%", b"|"):
            count = int(line)
            if count < 0:
                return None, pos
            items: list[Any] = []
            for _ in range(count * 2 if kind in (b"%", b"|") else count):
                item, pos = parse(buf, pos)
                items.append(item)
            if kind == b">":
                return Push(items), pos
            if kind == b"%":
                return dict(zip(items[::2], items[1::2], strict=True)), pos
            if kind == b"|":  # attributes come before the value they describe
                return parse(buf, pos)
            return items, pos
        if kind == b"+":
            return line.decode("utf-8", "replace"), pos
        if kind == b"-":
            return ReplyError(line.decode("utf-8", "replace")), pos
        if kind in (b":", b"("):
            return int(line), pos
        if kind == b"_":
            return None, pos
        if kind == b"#":
            return line == b"t", pos
        if kind == b",":
            return float(line), pos
    except ValueError as exc:
        raise ProtocolError(f"malformed {kind!r} frame: {line[:40]!r}") from exc
    raise ProtocolError(f"unknown RESP3 frame type {kind!r}")
