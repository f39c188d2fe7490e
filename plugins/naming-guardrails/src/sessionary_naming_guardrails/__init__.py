"""Naming guardrails for Sessionary: clean, bound and de-identify session names."""
