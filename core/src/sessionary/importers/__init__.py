"""Importers that bring sessions from other frameworks into any Sessionary store."""
