"""The sessionary-sqlite plugin: registers its classes through the sessionary hooks."""
