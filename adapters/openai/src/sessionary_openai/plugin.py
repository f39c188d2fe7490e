"""The sessionary-openai plugin: registers its classes through the sessionary hooks."""
