"""The session a run without ``session_id`` goes to, remembered per user.

A run with no ``session_id`` (and an owner with no default one) starts a session with a
new UUID, and the owner's later calls without one go on in it: that is the spec's
sticky session. One agent object serves many users in a web app, so the generated ID is
remembered per ``user_id``: Alice's next run goes on in Alice's session, and Bob's first
one starts his own. The most recent :data:`LIMIT` users are remembered; one forgotten
gets a new session on its next run without ``session_id`` (pass it to be sure).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sessionary.ids import new_id

__all__ = ["LIMIT", "GeneratedSessions"]

#: How many users' generated session IDs an owner remembers (the most recent).
LIMIT = 10_000


class GeneratedSessions:
    """Generated session IDs by user ID (``None`` for calls without a user), thread-safe."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._ids: OrderedDict[str | None, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: str | None) -> str | None:
        """The ID generated for this user's runs, if any."""
        with self._lock:
            found = self._ids.get(user_id)
            if found is not None:
                self._ids.move_to_end(user_id)
            return found

    def get_or_make(self, user_id: str | None) -> str:
        """The ID generated for this user's runs, made (a UUID4) on the first."""
        with self._lock:
            found = self._ids.get(user_id)
            if found is None:
                found = self._ids[user_id] = new_id()
                while len(self._ids) > self.limit:
                    self._ids.popitem(last=False)
            else:
                self._ids.move_to_end(user_id)
            return found
