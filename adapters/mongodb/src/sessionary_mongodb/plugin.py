"""The sessionary-mongodb plugin: registers its classes through the sessionary hooks."""
