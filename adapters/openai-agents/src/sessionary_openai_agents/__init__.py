"""Any Sessionary store as the session memory of the OpenAI Agents SDK.

>>> from sessionary_openai_agents import SessionarySession
>>> session = SessionarySession("conversation-1", db="memory://", user_id="alice")
>>> import asyncio
>>> asyncio.run(session.add_items([{"role": "user", "content": "Hello"}]))
>>> asyncio.run(session.get_items())
[{'role': 'user', 'content': 'Hello'}]
"""

from __future__ import annotations

from sessionary_openai_agents.session import SessionarySession

__all__ = ["SessionarySession"]
