"""OpenAI model providers for Sessionary: the Responses API and Chat Completions.

>>> from sessionary_openai import OpenAIResponses, OpenAIChat
>>> OpenAIResponses(id="gpt-5.2").label
'openai:gpt-5.2'

Importing this package does not import the ``openai`` SDK; the first call does.
"""

from __future__ import annotations

from sessionary_openai.chat import OpenAIChat
from sessionary_openai.responses import OpenAIResponses

__all__ = ["OpenAIChat", "OpenAIResponses"]
