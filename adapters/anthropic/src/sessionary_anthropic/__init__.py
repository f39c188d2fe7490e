"""Anthropic (Claude) model provider for Sessionary."""
