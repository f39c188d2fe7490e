"""The model every script here uses (Agno's newer cookbook has this file too).

``COOKBOOK_MODEL`` names it (``openai:gpt-5.2`` by default); the tests put a scripted
model here instead.
"""

import os

from sessionary import get_model

model = get_model(os.environ.get("COOKBOOK_MODEL", "openai:gpt-5.2"))
