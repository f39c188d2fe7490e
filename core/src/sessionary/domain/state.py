"""Session state changes: what a run did to its session's ``state``, key by key.

A run does not carry the whole state it ended with: it carries a :class:`StateChanges`,
the top-level keys it set (with their new values) and the keys it removed. A store
applies it to the stored state in the same atomic write that stores the run, so two
processes changing one session's state never lose each other's change: each key is
last-writer-wins, and keys one run did not touch keep what another run wrote.

>>> before = {"count": 1, "items": ["a"], "old": True}
>>> after = {"count": 2, "items": ["a"], "new": "x"}
>>> changes = StateChanges.between(before, after)
>>> changes.set, changes.removed
({'count': 2, 'new': 'x'}, ('old',))
>>> changes.apply({"count": 1, "old": True, "other": 7})
{'count': 2, 'other': 7, 'new': 'x'}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from sessionary.errors import InvalidInputError

__all__ = ["NO_CHANGES", "StateChanges", "copy_state"]


def _to_set(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if value is None else dict(value)


def _to_removed(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(value)))


@attrs.frozen(kw_only=True)
class StateChanges:
    """The top-level keys a run set (``set``: key to new value) and removed (``removed``).

    A key is in at most one of them. Values must be JSON-compatible (they are stored).
    """

    set: dict[str, Any] = attrs.field(factory=dict, converter=_to_set)
    removed: tuple[str, ...] = attrs.field(default=(), converter=_to_removed)

    def __attrs_post_init__(self) -> None:
        both = sorted(k for k in self.removed if k in self.set)
        if both:
            raise InvalidInputError(f"state key(s) {', '.join(both)} both set and removed")
        if not all(isinstance(k, str) for k in (*self.set, *self.removed)):
            raise InvalidInputError("session state keys must be strings")

    def __bool__(self) -> bool:
        return bool(self.set or self.removed)

    @classmethod
    def between(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> StateChanges:
        """The changes that turn ``before`` into ``after``, compared key by key."""
        changed = {k: v for k, v in after.items() if k not in before or before[k] != v}
        return cls(set=copy_state(changed), removed=[k for k in before if k not in after])

    def apply(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A new state: ``state`` with these keys removed and set (``state`` is not changed)."""
        if not self:
            return dict(state)
        merged = {k: v for k, v in state.items() if k not in self.removed}
        merged.update(copy.deepcopy(self.set))
        return merged

    def then(self, later: StateChanges) -> StateChanges:
        """These changes followed by ``later`` ones, as one change set."""
        merged = {k: v for k, v in self.set.items() if k not in later.removed}
        merged.update(later.set)
        removed = [k for k in self.removed if k not in later.set] + list(later.removed)
        return StateChanges(set=merged, removed=removed)

    def since(self, earlier: StateChanges) -> StateChanges:
        """What these changes add to ``earlier`` ones: the entries ``earlier`` does not hold.

        A continued run's record holds every change of the run; the store applies only
        what it gained since the stored version (:meth:`Store.update_run`), so a
        continuation never writes back a key the paused part wrote and another run
        changed since.
        """
        gained = {k: v for k, v in self.set.items() if k not in earlier.set or earlier.set[k] != v}
        return StateChanges(
            set=gained, removed=[k for k in self.removed if k not in earlier.removed]
        )


class _NoKeys(dict):  # type: ignore[type-arg]
    """An empty dict that cannot be filled: the ``set`` of :data:`NO_CHANGES`, which
    every run without state changes shares."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("NO_CHANGES is shared by every run: build a StateChanges instead")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _refuse


#: The changes of a run that changed nothing: one immutable instance, the default of
#: :attr:`Run.state_changes <sessionary.Run.state_changes>` (decoding a run builds none).
NO_CHANGES = StateChanges()
object.__setattr__(NO_CHANGES, "set", _NoKeys())


def copy_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``state`` checked to be JSON-compatible (what a store can keep)."""
    try:
        text = json.dumps(dict(state), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"session state must be JSON-compatible: {exc}") from exc
    copied: dict[str, Any] = json.loads(text)
    return copied
