"""Fixtures of the MongoDB tests: mongomock by default, a real server when asked.

With ``SESSIONARY_MONGODB_URL`` set (``nox -s "tests(mongodb-real)"`` requires it),
every store is opened on that server in a database of its own, dropped afterwards,
and an unreachable server fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from mongodb_support import StoreFactory
from mongodb_wire import MockMongoServer
from sessionary_mongodb import MongoDb

REAL_URL = os.environ.get("SESSIONARY_MONGODB_URL") or None


@pytest.fixture
def factory() -> Iterator[StoreFactory]:
    """Opens stores on the configured backend; cleans up after the test."""
    made = StoreFactory(REAL_URL)
    yield made
    made.cleanup()


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockMongoServer]:
    """mongomock behind the wire protocol on 127.0.0.1, for pymongo's real client."""
    with MockMongoServer() as server:
        yield server


@pytest.fixture
def wire_factory(mock_server: MockMongoServer) -> Iterator[StoreFactory]:
    """Stores on a real pymongo client talking to :func:`mock_server`."""
    made = StoreFactory(mock_server.url)
    yield made
    made.cleanup()


@pytest.fixture
def mock_factory() -> Iterator[StoreFactory]:
    """Always mongomock: for tests that inspect or count the adapter's own operations."""
    made = StoreFactory(None)
    yield made
    made.cleanup()


def pytest_configure(config: pytest.Config) -> None:
    # mongomock calls datetime.utcnow(), deprecated on Python 3.12+; not our code.
    config.addinivalue_line(
        "filterwarnings", "ignore:datetime.datetime.utcnow:DeprecationWarning:mongomock"
    )


@pytest.fixture
def store(factory: StoreFactory) -> MongoDb:
    """An empty store on the configured backend."""
    return factory.new_store()


@pytest.fixture
def mock(mock_factory: StoreFactory) -> MongoDb:
    """An empty store on mongomock, always."""
    return mock_factory.new_store()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so a race between operations shows."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)
