"""The sessionary-naming-fallbacks plugin: registers its classes through the sessionary hooks."""
