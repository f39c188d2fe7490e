"""MongoDb passes the whole storage conformance suite, twice.

``TestMongoDb``: on mongomock in-process by default; on the server named by
``SESSIONARY_MONGODB_URL`` when it is set (``nox -s "tests(mongodb-real)"``).

``TestMongoDbOverTheWire``: a real ``pymongo.MongoClient`` talking over a loopback
socket to ``MockMongoServer`` (mongomock behind MongoDB's wire protocol), so pymongo's
own code runs, and several processes can share the data. The semantics are still
mongomock's, not a MongoDB server's. The adapter uses no multi-document transactions,
so there is no transaction capability to declare.
"""

from __future__ import annotations

import os
from typing import ClassVar

import pytest
from mongodb_support import StoreFactory, damage_session_doc, stamp_schema
from sessionary_mongodb import MongoDb

from sessionary.storage.base import Capability, Store
from sessionary.testing import StorageConformance

REAL = bool(os.environ.get("SESSIONARY_MONGODB_URL"))

#: What mongomock cannot stand in for, and why; these run against a real server only.
MONGOMOCK_LACKS: dict[Capability, str] = {
    Capability.PERSISTENT: "each mongomock client keeps its data in its own memory, so a "
    "second store opened from a URL cannot see it",
    Capability.MULTIPROCESS: "mongomock lives inside one process",
}


class TestMongoDb(StorageConformance):
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
        if REAL
        else {Capability.TTL}
    )

    @pytest.fixture(autouse=True)
    def _factory(self, factory: StoreFactory) -> None:
        self.factory = factory

    @pytest.fixture
    def store(self) -> Store:
        return self.factory.new_store()

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        assert isinstance(store, MongoDb)
        return self.factory.url_for(store.db_name)

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, MongoDb)
        result = store._runs.update_many(
            {"session_id": session_id}, {"$set": {"data": '{"run_id": 42'}}
        )
        assert result.modified_count >= 1

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, MongoDb)
        stamp_schema(store._meta, store._sessions, session_id, newer=newer)

    def make_ttl_store(self, ttl: float) -> Store:
        return self.factory.new_store(ttl=ttl)

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, MongoDb)
        damage_session_doc(store._sessions, session_id)

    def _require(self, capability: Capability) -> None:
        if not REAL and capability in MONGOMOCK_LACKS:
            pytest.skip(
                f"capability {capability.value!r} cannot be tested on mongomock: "
                f"{MONGOMOCK_LACKS[capability]}; TestMongoDbOverTheWire runs it through "
                f"pymongo and a loopback server, and SESSIONARY_MONGODB_URL=... "
                f"nox -s 'tests(mongodb-real)' against a real server"
            )
        super()._require(capability)


class TestMongoDbOverTheWire(StorageConformance):
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )

    @pytest.fixture(autouse=True)
    def _factory(self, wire_factory: StoreFactory) -> None:
        self.factory = wire_factory

    @pytest.fixture
    def store(self) -> Store:
        return self.factory.new_store()

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        assert isinstance(store, MongoDb)
        return self.factory.url_for(store.db_name)

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        assert isinstance(store, MongoDb)
        stamp_schema(store._meta, store._sessions, session_id, newer=newer)

    def corrupt_session(self, store: Store, session_id: str) -> None:
        assert isinstance(store, MongoDb)
        result = store._runs.update_many(
            {"session_id": session_id}, {"$set": {"data": '{"run_id": 42'}}
        )
        assert result.modified_count >= 1

    def make_ttl_store(self, ttl: float) -> Store:
        return self.factory.new_store(ttl=ttl)

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        assert isinstance(store, MongoDb)
        damage_session_doc(store._sessions, session_id)
