"""The plugin system: entry points, built-ins, strict loading, registries, disabling."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sessionary_cli import main

from sessionary import get_model, open_db
from sessionary.errors import (
    DuplicatePluginError,
    InvalidInputError,
    PluginError,
    UnknownBackendError,
    UnknownProviderError,
)
from sessionary.plugins.manager import PluginWarning, get_plugin_host
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel

MakePlugin = Callable[[str, str], None]

STORE_PLUGIN = """
from sessionary import hookimpl
from sessionary.storage.memory import MemoryDb

class FakeDb(MemoryDb):
    name = "fake"
    url_schemes = ("fake",)

    @classmethod
    def from_url(cls, url):
        return cls()

@hookimpl
def sessionary_storage_backends():
    return [FakeDb]
"""


def test_builtins_are_registered_as_a_plugin(fresh_plugins: None) -> None:
    host = get_plugin_host()
    builtin = next(r for r in host.records if r.name == "sessionary")
    assert builtin.status == "loaded"
    assert "sessionary_storage_backends" in builtin.hooks
    assert isinstance(open_db("memory://"), MemoryDb)
    assert isinstance(get_model("scripted:x"), ScriptedModel)


def test_an_entry_point_plugin_adds_a_backend(install_plugin: MakePlugin) -> None:
    install_plugin("fakestore", STORE_PLUGIN)
    store = open_db("fake://anything")
    assert type(store).__name__ == "FakeDb"
    record = next(r for r in get_plugin_host().records if r.name == "fakestore")
    assert (record.status, record.version) == ("loaded", "1.2.3")
    assert record.hooks == ("sessionary_storage_backends",)


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(
    install_plugin: MakePlugin,
) -> None:
    install_plugin("broken", "import this_module_does_not_exist\n")
    with pytest.warns(PluginWarning, match="'broken'.*failed to load.*this_module_does_not_exist"):
        host = get_plugin_host()
    record = next(r for r in host.records if r.name == "broken")
    assert record.status == "failed"
    assert "ModuleNotFoundError" in (record.error or "")
    assert isinstance(open_db("memory://"), MemoryDb)


def test_a_misspelled_hook_is_an_error(install_plugin: MakePlugin) -> None:
    install_plugin(
        "typo",
        """
        from sessionary import hookimpl

        @hookimpl
        def sessionary_storage_backend():
            return []
        """,
    )
    with pytest.raises(PluginError, match="sessionary_storage_backend"):
        get_plugin_host()


def test_two_plugins_claiming_one_name_is_an_error_naming_both(
    install_plugin: MakePlugin,
) -> None:
    install_plugin("one", STORE_PLUGIN)
    install_plugin("two", STORE_PLUGIN)
    with pytest.raises(DuplicatePluginError) as info:
        open_db("fake://x")
    message = str(info.value)
    assert "fake_plugin_one.FakeDb" in message
    assert "fake_plugin_two.FakeDb" in message
    assert "'one'" in message
    assert "'two'" in message


def test_disabled_plugins_are_not_loaded(
    install_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin("fakestore", STORE_PLUGIN)
    monkeypatch.setenv("SESSIONARY_DISABLE_PLUGINS", "fakestore, other")
    with pytest.raises(UnknownBackendError, match="fake://"):
        open_db("fake://x")
    record = next(r for r in get_plugin_host().records if r.name == "fakestore")
    assert record.status == "disabled"


def test_unknown_schemes_and_providers_name_what_is_installed(fresh_plugins: None) -> None:
    with pytest.raises(UnknownBackendError, match="'nosuch://'.*memory://"):
        open_db("nosuch://x")
    with pytest.raises(UnknownProviderError, match="'nosuch'.*scripted"):
        get_model("nosuch:model")
    for bad in ("no-scheme", "://x", 42):
        with pytest.raises(InvalidInputError):
            open_db(bad)  # type: ignore[arg-type]
    for bad_model in ("no-colon", "openai:", ":id", 42):
        with pytest.raises(InvalidInputError):
            get_model(bad_model)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="'scripted:x'.*bad_option"):
        get_model("scripted:x", bad_option=1)


def test_an_event_hook_observes_saved_runs(install_plugin: MakePlugin) -> None:
    install_plugin(
        "observer",
        """
        from sessionary import hookimpl

        seen = []

        @hookimpl
        def sessionary_run_saved(run, session):
            seen.append(("saved", run.run_id, session.run_count))

        @hookimpl
        def sessionary_session_deleted(session_id, user_id):
            seen.append(("deleted", session_id, user_id))
        """,
    )
    from sessionary import Agent

    agent = Agent(model=ScriptedModel(), db="memory://")
    run = agent.run("hi", session_id="s", user_id="u")
    agent.delete_session("s", user_id="u")
    import fake_plugin_observer  # type: ignore[import-not-found]

    assert fake_plugin_observer.seen == [("saved", run.run_id, 1), ("deleted", "s", "u")]


def test_the_plugins_command_lists_plugins_with_versions_and_hooks(
    install_plugin: MakePlugin,
) -> None:
    install_plugin("fakestore", STORE_PLUGIN)
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    records = {r["name"]: r for r in json.loads(result.output)}
    assert records["fakestore"]["version"] == "1.2.3"
    assert records["fakestore"]["hooks"] == ["sessionary_storage_backends"]
    assert records["sessionary"]["status"] == "loaded"
    table = CliRunner().invoke(main, ["plugins"])
    assert table.exit_code == 0
    assert "fakestore" in table.output


def test_a_model_provider_plugin_is_found_by_name(install_plugin: MakePlugin) -> None:
    install_plugin(
        "fakemodel",
        """
        from sessionary import hookimpl
        from sessionary.testing import ScriptedModel

        class Parrot(ScriptedModel):
            provider = "parrot"

        @hookimpl
        def sessionary_model_providers():
            return [Parrot]
        """,
    )
    model = get_model("parrot:polly-1")
    assert type(model).__name__ == "Parrot"
    assert model.id == "polly-1"
    assert model.label == "parrot:polly-1"


def test_a_lazily_registered_backend_loads_only_when_its_scheme_is_used(
    install_plugin: MakePlugin,
) -> None:
    install_plugin(
        "lazystore",
        """
        from sessionary import hookimpl
        from sessionary.plugins import lazy

        @hookimpl
        def sessionary_storage_backends():
            return [lazy("fake_plugin_lazystore_impl:FakeDb", name="lazydb",
                         url_schemes=("lazydb",))]
        """,
    )
    import sys
    from pathlib import Path

    site = next(Path(p) for p in sys.path if Path(p, "fake_plugin_lazystore.py").exists())
    (site / "fake_plugin_lazystore_impl.py").write_text(STORE_PLUGIN.replace("fake", "lazydb"))
    try:
        open_db("memory://")
        assert "fake_plugin_lazystore_impl" not in sys.modules
        store = open_db("lazydb://x")
        assert type(store).__name__ == "FakeDb"
        assert "fake_plugin_lazystore_impl" in sys.modules
        assert type(open_db("lazydb://y")) is type(store)
    finally:
        sys.modules.pop("fake_plugin_lazystore_impl", None)


def test_a_lazy_class_that_does_not_match_its_registration_is_an_error(
    install_plugin: MakePlugin,
) -> None:
    install_plugin(
        "liar",
        """
        from sessionary import hookimpl
        from sessionary.plugins import lazy

        @hookimpl
        def sessionary_storage_backends():
            return [lazy("sessionary.storage.memory:MemoryDb", name="notmemory",
                         url_schemes=("liar",))]
        """,
    )
    with pytest.raises(PluginError, match="registered as name 'notmemory'"):
        open_db("liar://x")
    from sessionary.plugins import lazy

    with pytest.raises(PluginError, match="must be written 'module:Class'"):
        lazy("no_colon_here").load()


def test_every_registration_hook_fills_a_registry_and_every_event_hook_none() -> None:
    import inspect

    from sessionary import hookspecs
    from sessionary.plugins.registry import REGISTRIES

    specs = {
        name: inspect.signature(fn).return_annotation
        for name, fn in vars(hookspecs).items()
        if name.startswith("sessionary_")
    }
    # sessionary_cli_commands returns click commands for the command line, not classes
    # for a registry: sessionary-cli reads it (tests/plugins/web/test_serve.py).
    registration = {
        name
        for name, returns in specs.items()
        if returns != "None" and name != "sessionary_cli_commands"
    }
    assert {spec.hook for spec in REGISTRIES.values()} == registration
    assert len(specs) - len(registration) == 4  # the event hooks and the command line's


def test_a_registry_refuses_a_class_without_its_key_and_names_the_plugin(
    install_plugin: MakePlugin,
) -> None:
    install_plugin(
        "nameless",
        """
        from sessionary import hookimpl

        class NoProvider:
            pass

        @hookimpl
        def sessionary_model_providers():
            return [NoProvider]
        """,
    )
    with pytest.raises(PluginError, match="'nameless'.*NoProvider.*model provider"):
        get_model("scripted:x")
