"""The sessionary-naming-guardrails plugin: registers its classes through the sessionary hooks."""
