"""The field readers of :mod:`sessionary.codec`: each takes a field of a decoded JSON
object and returns it if it has the type the record needs, else raises
:class:`CodecError` naming the field."""

from __future__ import annotations

from typing import Any

__all__ = [
    "CodecError",
    "_dict",
    "_int",
    "_list",
    "_number",
    "_opt_dict",
    "_opt_float",
    "_opt_str",
    "_require_dict",
    "_str",
]


class CodecError(ValueError):
    """An encoded record is not a valid message, run or session."""


def _require_dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise CodecError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise CodecError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise CodecError(f"field {key!r} must be a string or null, got {type(value).__name__}")
    return value


def _int(data: dict[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CodecError(f"field {key!r} must be an integer, got {type(value).__name__}")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key, 0.0)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise CodecError(f"field {key!r} must be a number, got {type(value).__name__}")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise CodecError(f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def _opt_dict(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise CodecError(f"field {key!r} must be an object or null, got {type(value).__name__}")
    return value


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise CodecError(f"field {key!r} must be an object, got {type(value).__name__}")
    return value


def _opt_float(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise CodecError(f"field {key!r} must be a number or null, got {type(value).__name__}")
    return value
