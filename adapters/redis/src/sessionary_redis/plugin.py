"""The sessionary-redis plugin: registers its classes through the sessionary hooks."""
