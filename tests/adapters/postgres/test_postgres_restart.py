"""A private PostgreSQL server, stopped and restarted under a store that goes on working.

The test starts a server of its own (``initdb`` and ``pg_ctl`` from the installed
PostgreSQL, on a free port, in a temporary folder), so restarting it disturbs no one.
As root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sessionary_postgres import AsyncPostgresStore, PostgresDb

from sessionary.errors import StoreUnavailableError
from sessionary.testing.async_storage import LoopThread
from sessionary.testing.storage_data import make_run

pytestmark = pytest.mark.slow

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


class PrivateServer:
    """A throwaway PostgreSQL cluster: ``start``, ``stop``, ``restart``."""

    def __init__(self, folder: Path) -> None:
        self.bin = Path(BINARIES[-1])
        self.data = folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        if os.geteuid() == 0:  # the server user must own its folder
            account = pwd.getpwnam("postgres")
            os.chown(folder, account.pw_uid, account.pw_gid)
        self._as_server_user(
            str(self.bin / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data)
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_server_user(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_server_user(
            str(self.bin / "pg_ctl"),
            action,
            "-w",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "log"),
            *extra,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    if not BINARIES or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) installed here")
    # Not under pytest's tmp_path: as root that is closed to the server's user.
    folder = Path(tempfile.mkdtemp(prefix="sessionary-pg-"))
    try:
        made = PrivateServer(folder)
        made.start()
        try:
            yield made
        finally:
            made.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_store_outlives_a_server_restart_and_an_outage(server: PrivateServer) -> None:
    db = PostgresDb(server.url, min_size=2, timeout=2)  # a call waits 2 s for the pool
    # The async pool reconnects in tasks of a running loop, as in an application (with
    # psycopg_pool's backoff if an attempt met the restart).
    twin = AsyncPostgresStore(server.url, min_size=2)
    loop = LoopThread()
    for index in range(3):
        db.append_run(make_run("s1", text=f"before {index}"))
    assert loop.run(twin.get_session_info("s1")) is not None
    server.restart()
    db.append_run(make_run("s1", text="after the restart"))  # stale connections replaced
    info = loop.run(twin.get_session_info("s1"))  # the async pool's too
    assert info is not None and info.run_count == 4
    server.stop()
    with pytest.raises(StoreUnavailableError) as caught:
        db.append_run(make_run("s1", text="while it is down"))
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    fresh = AsyncPostgresStore(server.url)
    with pytest.raises(StoreUnavailableError) as caught:
        loop.run(fresh.append_run(make_run("s1", text="down, async")))
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    loop.run(twin.close())
    loop.stop()
    server.start()
    # The same store works again once its pool has reconnected: psycopg_pool retries
    # with a growing backoff, and a call waits at most `timeout` for it. A call that
    # raised StoreUnavailableError sent nothing, so trying again is safe.
    deadline = time.monotonic() + 120
    while True:
        try:
            db.append_run(make_run("s1", text="back again"))
            break
        except StoreUnavailableError:
            assert time.monotonic() < deadline, "the store never reconnected"
    assert [r.input for r in db.get_runs("s1")] == [
        "before 0",
        "before 1",
        "before 2",
        "after the restart",
        "back again",
    ]
    info = db.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (5, 5)
    db.close()
