"""MongoDB storage adapter for Sessionary."""
