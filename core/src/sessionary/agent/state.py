"""Session state for agents and teams: the options, and ``get/update_session_state``.

:class:`StateOptions` is a base of :class:`~sessionary.agent.base.SessionOwner`, so
every agent and team has these keyword arguments and methods. How the state a run
changes is stored is in :mod:`sessionary.domain.state`; what tools see, in
:mod:`sessionary.agent.context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from sessionary.agent.context import RunContext, has_placeholder
from sessionary.agent.summaries import wait_for_scheduled
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.domain.state import StateChanges, copy_state
from sessionary.errors import ConflictError, InvalidInputError, SessionNotFoundError
from sessionary.flow import DbCall, Flow, run_async, run_sync
from sessionary.tools import Tool

if TYPE_CHECKING:
    from sessionary.domain.sessions import SessionType
    from sessionary.storage.aio import AsyncStore
    from sessionary.storage.base import Store

__all__ = ["StateOptions", "check_state"]

#: How often ``update_session_state`` merges again when other writers got in between.
_UPDATE_RETRIES = 100


def check_state(
    value: Mapping[str, Any] | None, what: str = "session_state"
) -> dict[str, Any] | None:
    """``session_state`` as given: ``None``, or a JSON-compatible dict with str keys (copied)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"{what} must be a dict with str keys, got {type(value).__name__}")
    try:
        return copy_state(value)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{what}: {exc}") from None


def _bool(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{attribute.name} must be True or False, got {value!r}")


def _optional_bool(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _bool(instance, attribute, value)


@attrs.define(eq=False, slots=False)
class StateOptions:
    """Session state of an agent or a team.

    ``session_state`` is the state a new session starts with (and the defaults of keys
    a stored state lacks); tools change it through ``run_context.session_state``.
    ``add_session_state_to_context=True`` shows the model the state in the system
    message. ``resolve_in_context`` fills ``{key}`` placeholders of ``instructions``
    from the state (and ``{session_id}``, ``{user_id}``, ``{run_id}``); unknown keys
    stay as written. By default they are filled when there is state: the owner has a
    ``session_state``, or the session's (or the run's) state is not empty; so braces in
    the instructions of an agent that uses no state keep their meaning.
    """

    session_state: dict[str, Any] | None = attrs.field(
        default=None, kw_only=True, converter=check_state
    )
    add_session_state_to_context: bool = attrs.field(default=False, kw_only=True, validator=_bool)
    resolve_in_context: bool | None = attrs.field(
        default=None, kw_only=True, validator=_optional_bool
    )

    if TYPE_CHECKING:
        db: Store
        adb: AsyncStore
        session_type: ClassVar[SessionType]

        def _session_for_read(self, session_id: str | None, user_id: str | None = None) -> str: ...

        def _user(self, user_id: str | None) -> str | None: ...

        def _owned_elsewhere(self, session_id: str, user_id: str | None) -> Flow[bool]: ...

        def _owner_filter(self) -> dict[str, Any]: ...

        add_session_summary_to_context: bool
        instructions: str | None

        def _summary_text(self, info: SessionInfo | None) -> str | None: ...

    # ------------------------------------------------------------------ running

    def _state_tools(self) -> Iterable[Tool]:
        """The tools whose ``run_context`` a run of this owner fills (members' too)."""
        return ()

    def _resolves(self, context: RunContext | None) -> bool:
        """Whether ``{key}`` placeholders are filled: as ``resolve_in_context`` says, else
        when the owner has a ``session_state`` or the run's state is not empty."""
        if self.resolve_in_context is not None:
            return self.resolve_in_context
        return self.session_state is not None or bool(context and context.session_state)

    def _needs_context(self, given: Mapping[str, Any] | None) -> bool:
        """Whether a run must read the session's state before it starts."""
        return (
            given is not None
            or self.session_state is not None
            or self.add_session_state_to_context
            or bool(self.resolve_in_context)
            or (self.resolve_in_context is None and has_placeholder(self.instructions))
            or self.add_session_summary_to_context
            or any(t.takes_run_context for t in self._state_tools())
        )

    def _start_context(
        self, run_id: str, session_id: str, user_id: str | None, given: Mapping[str, Any] | None
    ) -> Flow[RunContext | None]:
        """The run's context, from the stored state (``None`` when the run needs none)."""
        if not self._needs_context(given):
            return None
        if self.add_session_summary_to_context:
            yield from wait_for_scheduled()  # the summary of the runs before this one
        info: SessionInfo | None = yield DbCall.of("get_session_info", session_id, user_id=user_id)
        context = RunContext.start(
            run_id=run_id,
            session_id=session_id,
            user_id=user_id,
            stored=None if info is None else info.state,
            defaults=self.session_state,
            given=given,
        )
        context.summary_text = self._summary_text(info)
        return context

    # ------------------------------------------------------------------ public API

    def get_session_state(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """The session's state as a run would start from it: the stored state over this
        owner's ``session_state`` defaults (the defaults alone for a session not stored yet).
        """
        return run_sync(self._read_state(session_id, user_id), self.db)

    async def aget_session_state(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """:meth:`get_session_state` for the event loop."""
        return await run_async(self._read_state(session_id, user_id), self.adb)

    def update_session_state(
        self,
        session_state_updates: Mapping[str, Any],
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        remove: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Set the given keys (and remove the keys in ``remove``) of the session's state.

        Only those keys change: the others keep what any other writer stored, checked
        against the session's version and merged again if it moved. A session not stored
        yet is created with this state (and the owner's defaults). Returns the new state.
        """
        flow = self._write_state(session_state_updates, remove, session_id, user_id)
        return run_sync(flow, self.db)

    async def aupdate_session_state(
        self,
        session_state_updates: Mapping[str, Any],
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        remove: Iterable[str] = (),
    ) -> dict[str, Any]:
        """:meth:`update_session_state` for the event loop."""
        flow = self._write_state(session_state_updates, remove, session_id, user_id)
        return await run_async(flow, self.adb)

    def _read_state(self, session_id: str | None, user_id: str | None) -> Flow[dict[str, Any]]:
        uid = self._user(user_id)
        sid = self._session_for_read(session_id, uid)
        info: SessionInfo | None = yield DbCall.of("get_session_info", sid, user_id=uid)
        state = dict(self.session_state or {})
        if info is not None:
            state.update(info.state)
        return state

    def _write_state(
        self,
        updates: Mapping[str, Any],
        remove: Iterable[str],
        session_id: str | None,
        user_id: str | None,
    ) -> Flow[dict[str, Any]]:
        uid = self._user(user_id)
        sid = self._session_for_read(session_id, uid)
        values = check_state(updates, "session_state_updates")
        if isinstance(remove, str):
            raise InvalidInputError("remove must be a list of keys, not a str")
        changes = StateChanges(set=values or {}, removed=list(remove))
        if (yield from self._owned_elsewhere(sid, uid)):
            raise SessionNotFoundError(sid, uid)
        for _ in range(_UPDATE_RETRIES):
            info: SessionInfo | None = yield DbCall.of("get_session_info", sid, user_id=uid)
            try:
                if info is None:
                    anyone: SessionInfo | None = yield DbCall.of("get_session_info", sid)
                    if anyone is not None:  # another user's session: not found, as a read
                        raise SessionNotFoundError(sid, uid)
                    fresh = changes.apply(self.session_state or {})
                    yield DbCall.of("import_session", self._empty_session(sid, uid, fresh))
                    return fresh
                state = changes.apply(info.state)
                done: SessionInfo = yield DbCall.of(
                    "update_session", sid, user_id=uid, expected_version=info.version, state=state
                )
                return dict(done.state)
            except ConflictError:  # another writer got in between: merge again
                continue
        raise ConflictError(f"session {sid!r}: its state kept changing; nothing was written")

    def _empty_session(
        self, session_id: str, user_id: str | None, state: dict[str, Any]
    ) -> Session:
        return Session.from_info(
            SessionInfo(
                session_id=session_id,
                session_type=self.session_type,
                user_id=user_id,
                state=state,
                **self._owner_filter(),
            ),
            (),
        )
