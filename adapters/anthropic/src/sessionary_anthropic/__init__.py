"""Anthropic (Claude) model provider for Sessionary, on the Messages API.

>>> from sessionary_anthropic import Claude
>>> Claude(id="claude-sonnet-4-5").label
'anthropic:claude-sonnet-4-5'

Importing this package does not import the ``anthropic`` SDK; the first call does.
"""

from __future__ import annotations

from sessionary_anthropic.claude import Claude

__all__ = ["Claude"]
