"""Naming fallbacks for Sessionary: offline names when the model cannot name a session."""
