"""Goes to tests/adapters/NAME/test_NAME_conformance.py: the whole contract, in a few lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sessionary.storage.base import Capability, Store
from sessionary.testing import StorageConformance
from sessionary_template import TemplateDb


class TestTemplateDb(StorageConformance):
    capabilities = frozenset({Capability.PERSISTENT})

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        with TemplateDb.from_url("template://test") as store:
            yield store

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        return "template://test"

    def corrupt_session(self, store: Store, session_id: str) -> None:
        raise NotImplementedError("write undecodable bytes into one of the session's records")
