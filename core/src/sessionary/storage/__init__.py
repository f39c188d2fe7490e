"""Storage: the contract every backend implements, and the built-in memory store."""

from sessionary.storage.base import UNSET, Capability, SchemaStatus, Store

__all__ = ["UNSET", "Capability", "SchemaStatus", "Store"]
