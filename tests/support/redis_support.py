"""Test helpers for Redis: private ``redis-server`` processes, and cleaning a prefix.

The adapter's own fault and cluster tests use these, and so can an application's:

- :class:`RedisServer` runs one ``redis-server`` on a free loopback port in a directory
  of yours, and can be stopped and started again on the same port (an outage);
- :func:`start_cluster` starts three ``--cluster-enabled yes`` nodes and joins them
  with ``redis-cli --cluster create``;
- :func:`delete_prefix` deletes every key under a prefix you made for a test, so tests
  that share a server clean exactly their own keys (never FLUSHDB).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import redis
from sessionary_redis.keys import KeyLayout

__all__ = [
    "RedisServer",
    "delete_prefix",
    "free_port",
    "redis_binary",
    "start_cluster",
    "with_params",
]


def redis_binary(name: str = "redis-server") -> str:
    """The path of ``redis-server`` or ``redis-cli``; fails the test run if there is none."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
    )
    if found is None:
        raise RuntimeError(f"{name} is not installed; the Redis fault and cluster tests need it")
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    """A loopback port nobody listens on (and, for cluster nodes, port + 10000 too)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 50000 and (not with_bus or _port_is_free(port + 10000)):
            return port
    raise RuntimeError("no free loopback port found")


class RedisServer:
    """One redis-server on 127.0.0.1, started, stopped and started again on the same port."""

    def __init__(
        self, workdir: Path, *, port: int | None = None, extra: Sequence[str] = ()
    ) -> None:
        self.workdir = workdir
        self.port = port if port is not None else free_port(with_bus=True)
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(
                        f"redis-server on port {self.port} did not start:\n{tail}"
                    ) from None
                time.sleep(0.05)
            finally:
                client.close()
        return self

    def stop(self) -> None:
        """Stop the server the way an outage does: the process goes away."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _cluster_info(client: redis.Redis) -> bytes:
    reply = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
    if isinstance(reply, dict):
        return b"\n".join(f"{k}:{v}".encode() for k, v in reply.items())
    return reply if isinstance(reply, bytes) else str(reply).encode()


def start_cluster(workdir: Path, nodes: int = 3) -> list[RedisServer]:
    """Three ``--cluster-enabled yes`` nodes joined by ``redis-cli --cluster create``."""
    servers: list[RedisServer] = []
    try:
        for index in range(nodes):
            server = RedisServer(
                workdir / f"node{index}",
                extra=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ],
            )
            servers.append(server.start())
        addresses = [f"127.0.0.1:{s.port}" for s in servers]
        subprocess.run(
            [
                redis_binary("redis-cli"),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        for server in servers:
            client = redis.Redis(port=server.port)
            try:
                while b"cluster_state:ok" not in _cluster_info(client):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the test cluster did not reach cluster_state:ok")
                    time.sleep(0.1)
            finally:
                client.close()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key under a test's own prefix (made and escaped by us, never an ID)."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


def with_params(url: str, **params: object) -> str:
    """``url`` with extra query parameters."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"
