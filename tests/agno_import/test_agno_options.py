"""Every keyword argument of the real Agno's Agent and Team is Sessionary's own option or
is refused with a hint (collected only by the Agno nox cells, like its neighbours)."""

from __future__ import annotations

import inspect

import attrs
import pytest

from sessionary import Agent, Team
from sessionary.agent.agno_options import AGNO_HINTS


@pytest.mark.parametrize("kind", ["Agent", "Team"])
def test_every_agno_option_is_ours_or_has_a_hint(kind: str) -> None:
    from agno.agent import Agent as AgnoAgent
    from agno.team import Team as AgnoTeam

    agno = {"Agent": AgnoAgent, "Team": AgnoTeam}[kind]
    names = set(inspect.signature(agno.__init__).parameters) - {"self"}
    ours = {a.alias for cls in (Agent, Team) for a in attrs.fields(cls) if a.init}
    assert sorted(names - ours - set(AGNO_HINTS)) == []
