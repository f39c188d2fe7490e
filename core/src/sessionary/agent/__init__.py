"""Agents: the model/tool loop and the session API they share with teams."""

from sessionary.agent.agent import Agent

__all__ = ["Agent"]
