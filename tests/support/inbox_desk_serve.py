"""``sessionary serve --agent inbox_desk_serve:agent``: the desk agent on ``$DESK_DB``."""

from __future__ import annotations

import os

from inbox_desk import desk_agent

agent = desk_agent(os.environ["DESK_DB"])
