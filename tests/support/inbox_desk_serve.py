"""``sessionary serve --agent inbox_desk_serve:agent``: the desk agent on ``$DESK_DB``
(memory when it is unset, so importing this module alone needs nothing)."""

from __future__ import annotations

import os

from inbox_desk import desk_agent

agent = desk_agent(os.environ.get("DESK_DB", "memory://"))
