"""The sessionary-anthropic plugin: registers its classes through the sessionary hooks."""
