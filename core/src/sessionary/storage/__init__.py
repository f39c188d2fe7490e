"""Storage: the contract every backend implements (sync and async), and the memory store."""

from sessionary.storage.aio import AsyncStore, ThreadedAsyncStore
from sessionary.storage.base import UNSET, Capability, SchemaStatus, Store

__all__ = ["UNSET", "AsyncStore", "Capability", "SchemaStatus", "Store", "ThreadedAsyncStore"]
