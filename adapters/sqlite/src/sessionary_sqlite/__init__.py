"""SQLite storage adapter for Sessionary: the embedded default."""
