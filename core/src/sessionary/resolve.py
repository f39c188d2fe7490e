"""Picking a store by URL and a model by name: ``open_db`` and ``get_model``."""

from __future__ import annotations

import inspect
from typing import Any

from sessionary.errors import InvalidInputError
from sessionary.models.base import Model
from sessionary.plugins.manager import get_plugin_host
from sessionary.storage.base import Store

__all__ = ["get_model", "open_db", "resolve_db", "resolve_model"]


def open_db(url: str) -> Store:
    """Open the store a URL names, with the backend registered for its scheme.

    >>> open_db("memory://").name
    'memory'
    """
    if not isinstance(url, str):
        raise InvalidInputError(f"a store URL must be a str, got {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise InvalidInputError(
            f"{url!r} is not a store URL; expected SCHEME://..., e.g. 'sqlite:///tmp/agent.db'"
        )
    cls: type[Store] = get_plugin_host().storage_by_scheme().get(scheme.lower())
    return cls.from_url(url)


def get_model(spec: str, **options: Any) -> Model:
    """Build a model from ``"provider:model-id"``; ``options`` go to the provider class.

    >>> get_model("scripted:demo").id
    'demo'
    """
    if not isinstance(spec, str):
        raise InvalidInputError(f"a model name must be a str, got {type(spec).__name__}")
    provider, sep, model_id = spec.partition(":")
    if not sep or not provider or not model_id:
        raise InvalidInputError(
            f"{spec!r} is not a model name; expected 'provider:model-id', e.g. 'openai:gpt-5.2'"
        )
    cls: type[Model] = get_plugin_host().models().get(provider)
    try:
        inspect.signature(cls).bind(id=model_id, **options)
    except TypeError as exc:
        raise InvalidInputError(f"model {spec!r}: {exc}") from None
    return cls(id=model_id, **options)  # type: ignore[call-arg]


def resolve_db(db: Store | str | None) -> Store | None:
    """A store from a store, a URL, or ``None``."""
    if db is None or isinstance(db, Store):
        return db
    if isinstance(db, str):
        return open_db(db)
    raise InvalidInputError(f"db must be a Store or a URL string, got {type(db).__name__}")


def resolve_model(model: Model | str | None) -> Model | None:
    """A model from a model, a ``provider:model-id`` string, or ``None``."""
    if model is None or isinstance(model, Model):
        return model
    if isinstance(model, str):
        return get_model(model)
    raise InvalidInputError(
        f"model must be a Model or a 'provider:model-id' string, got {type(model).__name__}"
    )
