"""Tools: plain Python functions an agent's model may call.

A function's JSON schema comes from its signature, type hints and docstring
(Google-style ``Args:`` sections give the argument descriptions). Decorate with
:func:`tool` to rename it, describe it, or say what it needs from a person.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union, overload

import attrs

from sessionary.errors import InvalidInputError
from sessionary.models.base import ToolSpec

__all__ = ["Tool", "as_tool", "tool"]

#: The parameter through which a tool receives the run's context (Agno's name).
RUN_CONTEXT = "run_context"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


@attrs.frozen(kw_only=True)
class Tool:
    """A callable tool with its schema and what it needs from a person before it runs."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    requires_confirmation: bool = False
    requires_user_input: bool = False
    user_input_fields: tuple[str, ...] = ()
    external_execution: bool = False
    #: The function has a ``run_context`` parameter: the run's context is passed to it
    #: (see :class:`sessionary.agent.context.RunContext`); it is not in the schema.
    takes_run_context: bool = False

    @property
    def spec(self) -> ToolSpec:
        """The tool as the model sees it."""
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    @property
    def needs_person(self) -> bool:
        """True when a run must pause before this tool runs."""
        return self.requires_confirmation or self.requires_user_input or self.external_execution

    def __call__(self, **arguments: Any) -> Any:
        return self.function(**arguments)

    #: A flow that stands in for the function (a team's delegation runs a member's run
    #: flow, so it works under both the sync and the async driver). Internal.
    flow: Callable[[Mapping[str, Any]], Any] | None = attrs.field(
        default=None, repr=False, eq=False
    )

    @property
    def is_async(self) -> bool:
        """True for an ``async def`` function (awaited by ``arun``, run on a loop by ``run``)."""
        return inspect.iscoroutinefunction(self.function)

    def invoke(self, arguments: Mapping[str, Any]) -> str:
        """Check ``arguments`` against the schema's required names, call, and render as text.

        Raises :class:`InvalidInputError` for missing or unknown arguments; whatever the
        function raises propagates.
        """
        self._check(arguments)
        return render_result(self.function(**arguments))

    async def ainvoke(self, arguments: Mapping[str, Any]) -> str:
        """:meth:`invoke` for the event loop: an ``async def`` tool is awaited, a sync one
        runs in a worker thread (so a tool that blocks never holds the loop)."""
        if not self.is_async:
            return await asyncio.to_thread(self.invoke, arguments)
        self._check(arguments)
        return render_result(await self.function(**arguments))

    def _check(self, arguments: Mapping[str, Any]) -> None:
        properties = self.parameters.get("properties", {})
        missing = [name for name in self.parameters.get("required", []) if name not in arguments]
        if missing:
            raise InvalidInputError(f"missing required argument(s): {', '.join(missing)}")
        accepts_any = any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            for p in _signature(self.function).parameters.values()
        )
        unknown = [name for name in arguments if name not in properties]
        if unknown and not accepts_any:
            raise InvalidInputError(f"unknown argument(s): {', '.join(unknown)}")


def render_result(value: Any) -> str:
    """A tool's return value as the text sent back to the model."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_confirmation: bool = False,
    requires_user_input: bool = False,
    user_input_fields: Sequence[str] = (),
    external_execution: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_confirmation: bool = False,
    requires_user_input: bool = False,
    user_input_fields: Sequence[str] = (),
    external_execution: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a function a tool; usable bare (``@tool``) or with options (``@tool(...)``).

    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two numbers.'''
    ...     return a + b
    >>> add.spec.parameters["required"]
    ['a', 'b']
    """

    def decorate(fn: Callable[..., Any]) -> Tool:
        return _build(
            fn,
            name=name,
            description=description,
            requires_confirmation=requires_confirmation,
            requires_user_input=requires_user_input,
            user_input_fields=tuple(user_input_fields),
            external_execution=external_execution,
        )

    if function is not None:
        return decorate(function)
    return decorate


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """A :class:`Tool` from a tool or a plain function."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return _build(obj)
    raise InvalidInputError(f"a tool must be a function or a Tool, got {type(obj).__name__}")


def _build(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    requires_confirmation: bool = False,
    requires_user_input: bool = False,
    user_input_fields: tuple[str, ...] = (),
    external_execution: bool = False,
) -> Tool:
    tool_name = name or getattr(fn, "__name__", None) or type(fn).__name__
    if not _NAME.match(tool_name):
        raise InvalidInputError(
            f"tool name {tool_name!r} must be letters, digits, '_' or '-' (at most 64)"
        )
    summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    parameters = _schema(fn, arg_docs)
    if requires_user_input:
        unknown = [f for f in user_input_fields if f not in parameters["properties"]]
        if unknown:
            raise InvalidInputError(
                f"user_input_fields of tool {tool_name!r} name no parameter: {', '.join(unknown)}"
            )
    elif user_input_fields:
        raise InvalidInputError("user_input_fields needs requires_user_input=True")
    return Tool(
        name=tool_name,
        description=description if description is not None else summary,
        parameters=parameters,
        function=fn,
        requires_confirmation=requires_confirmation,
        requires_user_input=requires_user_input,
        user_input_fields=user_input_fields,
        external_execution=external_execution,
        takes_run_context=RUN_CONTEXT in _signature(fn).parameters,
    )


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    paragraphs = doc.strip().split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    if summary.lower().startswith(("args:", "arguments:", "parameters:")):
        summary = ""
    arg_docs: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.lower() in ("args:", "arguments:", "parameters:"):
            in_args, current = True, None
            continue
        if in_args:
            if not stripped:
                continue
            if stripped.endswith(":") and " " not in stripped:
                in_args = False  # the next section (Returns:, Raises:) starts
                continue
            match = re.match(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
            if match:
                current = match.group(1)
                arg_docs[current] = match.group(2)
            elif current is not None:
                arg_docs[current] = f"{arg_docs[current]} {stripped}".strip()
    return summary, arg_docs


def _schema(fn: Callable[..., Any], arg_docs: dict[str, str]) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: fall back to untyped arguments
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in _signature(fn).parameters.values():
        if param.name == RUN_CONTEXT:
            continue
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise InvalidInputError(
                f"tool {getattr(fn, '__name__', fn)!r}: positional-only parameter "
                f"{param.name!r} cannot be passed by name"
            )
        schema = _type_schema(hints.get(param.name, Any))
        if arg_docs.get(param.name):
            schema["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif param.default is None or isinstance(param.default, (str, int, float, bool)):
            schema["default"] = param.default
        properties[param.name] = schema
    return {"type": "object", "properties": properties, "required": required}


_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _type_schema(hint: Any) -> dict[str, Any]:
    if hint is Any or hint is inspect.Parameter.empty:
        return {}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if hint is type(None):
        return {"type": "null"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [_type_schema(arg) for arg in args]
        return {"anyOf": options}
    if origin in (list, tuple, set, frozenset, Sequence) or hint in (list, tuple, set):
        items = _type_schema(args[0]) if args else {}
        return {"type": "array", "items": items}
    if origin in (dict, Mapping) or hint is dict:
        return {"type": "object"}
    return {}
