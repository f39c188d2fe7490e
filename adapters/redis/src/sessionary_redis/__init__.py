"""Redis storage adapter (and shared session cache) for Sessionary."""
