"""Every error Sessionary raises.

All of them derive from :class:`SessionaryError`, so an application can catch the
whole family at once, and each family has a base class of its own (storage, model,
plugin, bad input) so it can also catch exactly one concern.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConflictError",
    "CorruptRecordError",
    "CorruptStoreError",
    "DuplicatePluginError",
    "InvalidIdError",
    "InvalidInputError",
    "ModelAuthenticationError",
    "ModelBadRequestError",
    "ModelConnectionError",
    "ModelError",
    "ModelNotFoundError",
    "ModelRateLimitError",
    "ModelResponseError",
    "ModelServerError",
    "ModelTimeoutError",
    "OwnershipError",
    "PluginError",
    "RunAlreadyContinuedError",
    "RunExpiredError",
    "RunNotFoundError",
    "RunNotPausedError",
    "SchemaVersionError",
    "SessionNotFoundError",
    "SessionaryError",
    "StorageError",
    "StoreUnavailableError",
    "UnknownBackendError",
    "UnknownProviderError",
    "UnresolvedRequirementError",
]


class SessionaryError(Exception):
    """Base class of every error Sessionary raises."""


class InvalidInputError(SessionaryError, ValueError):
    """An argument was rejected before any I/O happened.

    When what was rejected is a run's final write (a model answered with text that is not
    valid Unicode, say), ``run`` is that complete run, so its answer and the record of its
    tools are not lost; it cannot be stored as it is.
    """

    #: The complete run refused at its final write (a :class:`~sessionary.Run`), else ``None``.
    run: Any = None


class InvalidIdError(InvalidInputError):
    """A session, user, run, agent or team ID is not a non-empty printable string of at most 256."""


# --------------------------------------------------------------------------- storage


class StorageError(SessionaryError):
    """A store could not do what was asked. Nothing is reported as stored that was not.

    When the write that failed was a run's final one (``run``, ``continue_run``), ``run``
    is the complete run, which may or may not have been stored: ``agent.save_run(exc.run)``
    stores it later, and saving a run that is already stored is a no-op.
    """

    #: The complete run whose final write failed (a :class:`~sessionary.Run`), else ``None``.
    run: Any = None


class SessionNotFoundError(StorageError, LookupError):
    """No session with that ID exists (for that user, when a user was given)."""

    def __init__(self, session_id: str, user_id: str | None = None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        whose = f" for user {user_id!r}" if user_id is not None else ""
        super().__init__(f"session {session_id!r} not found{whose}")


class RunNotFoundError(StorageError, LookupError):
    """No run with that ID exists in the session."""

    def __init__(self, session_id: str, run_id: str, user_id: str | None = None) -> None:
        self.session_id = session_id
        self.run_id = run_id
        self.user_id = user_id
        whose = f" for user {user_id!r}" if user_id is not None else ""
        super().__init__(f"run {run_id!r} not found in session {session_id!r}{whose}")


class OwnershipError(StorageError):
    """What a backend's ``_append_run`` / ``_update_run`` raise for another user's session.

    The public calls turn it into :class:`SessionNotFoundError` (:class:`RunNotFoundError`
    for ``update_run``), so a write never confirms that someone else's session exists.
    """

    def __init__(self, session_id: str, user_id: str | None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        super().__init__(
            f"session {session_id!r} belongs to another user; refused a write for user {user_id!r}"
        )


class ConflictError(StorageError):
    """An optimistic update lost: the record changed since it was read."""


class CorruptRecordError(StorageError):
    """A stored record could not be decoded. The message names the session."""

    def __init__(self, session_id: str, detail: str) -> None:
        self.session_id = session_id
        self.detail = detail
        super().__init__(f"stored record of session {session_id!r} cannot be decoded: {detail}")


class CorruptStoreError(StorageError):
    """The store's file is damaged, or is not a store at all (a file of something else)."""


class SchemaVersionError(StorageError):
    """The store was written by a schema this version cannot read, or needs a migration."""


class StoreUnavailableError(StorageError):
    """The store's server or file could not be reached."""


# --------------------------------------------------------------------------- paused runs


class RunNotPausedError(InvalidInputError):
    """Only a paused run can be continued; this one is not (or no longer) paused."""

    def __init__(self, session_id: str, run_id: str, status: str, detail: str = "") -> None:
        self.session_id = session_id
        self.run_id = run_id
        self.status = status
        super().__init__(
            f"run {run_id!r} of session {session_id!r} is {status}, not paused; "
            f"only a paused run can be continued{detail}"
        )


class RunAlreadyContinuedError(ConflictError, RunNotPausedError):
    """Another caller continued (or is continuing) this paused run first; this call did nothing."""


class UnresolvedRequirementError(InvalidInputError):
    """``continue_run`` was called while a requirement of the run still has no answer."""


class RunExpiredError(SessionaryError):
    """A paused run waited past its expiry; it is now stored as cancelled."""


# --------------------------------------------------------------------------- models


class ModelError(SessionaryError):
    """A model call failed. ``provider_message`` keeps what the provider said."""

    def __init__(self, message: str, *, provider_message: str | None = None) -> None:
        super().__init__(message)
        self.provider_message = provider_message


class ModelAuthenticationError(ModelError):
    """The provider refused the credentials (or none were configured)."""


class ModelRateLimitError(ModelError):
    """The provider is rate limiting this client."""


class ModelBadRequestError(ModelError):
    """The provider rejected the request as malformed."""


class ModelNotFoundError(ModelBadRequestError):
    """The provider has no such model, or no such endpoint (HTTP 404).

    A :class:`ModelBadRequestError`, so code that catches that still catches it.
    """


class ModelServerError(ModelError):
    """The provider failed with a server-side error."""


class ModelTimeoutError(ModelError):
    """The provider did not answer in time."""


class ModelConnectionError(ModelError):
    """The provider could not be reached."""


class ModelResponseError(ModelError):
    """The provider answered with something that is not a usable response."""


# --------------------------------------------------------------------------- plugins


class PluginError(SessionaryError):
    """A plugin is missing, misconfigured or in conflict with another."""


class DuplicatePluginError(PluginError):
    """Two plugins registered the same name or URL scheme."""


class UnknownBackendError(PluginError, InvalidInputError):
    """No storage backend is registered for a URL scheme or name."""


class UnknownProviderError(PluginError, InvalidInputError):
    """No model provider is registered under a name."""
