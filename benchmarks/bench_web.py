"""The web inbox on a store of 100,000 sessions: the first inbox page and the approvals view.

Run from the repository root:

    .venv/bin/python benchmarks/bench_web.py            # 100,000 sessions
    .venv/bin/python benchmarks/bench_web.py --sessions 2000   # a quick check

The store is a SQLite file (built once, kept in ``benchmarks/out/``): every session has
one run and a name, one in a hundred has a paused run waiting for confirmation. The
inbox is served by uvicorn on a loopback port, as ``sessionary serve`` does, and each
request is timed from sending it to reading its last byte (median of 50, after warm-up):
the server's time plus a loopback round trip. Listing never loads runs; the approvals
view loads only the paused runs of the sessions on its page (20).
"""

from __future__ import annotations

import argparse
import functools
import http.client
import socket
import threading
import time
from pathlib import Path

import uvicorn
from common import OUT, machine, measure, ms, print_table, save_results

from sessionary.domain.messages import Message, ToolCall
from sessionary.domain.runs import Requirement, Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.resolve import open_db
from sessionary.storage.base import Store

REPEAT = 50
PAUSED_EVERY = 100


def build(path: Path, sessions: int) -> None:
    """A store of ``sessions`` named sessions with one run each, 1 in 100 paused."""
    start = time.perf_counter()
    with open_db(f"sqlite:///{path}?synchronous=normal") as store:
        now = time.time() - sessions
        for n in range(sessions):
            _import_one(store, n, now + n)
    print(f"built {sessions:,} sessions in {time.perf_counter() - start:.0f} s: {path}")


def _import_one(store: Store, n: int, at: float) -> None:
    session_id = f"bench-{n:06d}"
    paused = n % PAUSED_EVERY == 0
    call = ToolCall(id=f"call-{n}", name="refund", arguments={"order_id": f"A-{n}", "amount": 10})
    messages = [Message(role="user", content=f"Please refund order A-{n}", created_at=at)]
    if paused:
        messages.append(Message(role="assistant", tool_calls=[call], created_at=at))
    else:
        messages.append(Message(role="assistant", content="Done, refunded.", created_at=at))
    run = Run(
        run_id=f"run-{n:06d}",
        session_id=session_id,
        user_id=f"user-{n % 1000}",
        agent_id="support-desk",
        status=RunStatus.PAUSED if paused else RunStatus.COMPLETED,
        input=f"Please refund order A-{n}",
        messages=messages,
        requirements=[Requirement(id=f"req-{n}", kind="confirmation", tool_call=call)]
        if paused
        else [],
        created_at=at,
        updated_at=at,
    )
    info = SessionInfo(
        session_id=session_id,
        user_id=run.user_id,
        agent_id="support-desk",
        name=f"Refund for order A-{n}",
        name_source="manual",
        created_at=at,
        updated_at=at,
    )
    store.import_session(Session.from_info(info, [run]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"web-{args.sessions}.db"
    if not path.exists():
        build(path, args.sessions)

    from sessionary_web import inbox_app

    store = open_db(f"sqlite:///{path}")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(inbox_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def get(path: str) -> int:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()  # to the last byte
        assert response.status == 200, (response.status, body[:300])
        return len(body)

    rows = []
    results = {}
    for label, target in (
        ("inbox, first page (50 sessions)", "/"),
        ("approvals view (20 sessions with paused runs)", "/approvals"),
        ("JSON: GET /api/sessions (50)", "/api/sessions"),
        ("JSON: GET /api/approvals (20)", "/api/approvals"),
    ):
        size = get(target)
        stats = measure(functools.partial(get, target), repeat=REPEAT, warmup=5)
        rows.append([label, ms(stats.median), ms(stats.p95), f"{size:,} B"])
        results[target] = stats.as_dict()
    connection.close()
    server.should_exit = True
    thread.join()
    print(f"machine: {machine()}")
    print_table(
        f"The web inbox on {args.sessions:,} SQLite sessions, request to last byte "
        f"(median of {REPEAT})",
        ["page", "median", "p95", "size"],
        rows,
    )
    print(f"\nwritten: {save_results('web', {'sessions': args.sessions, 'results': results})}")


if __name__ == "__main__":
    main()
