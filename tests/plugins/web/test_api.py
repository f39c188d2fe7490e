"""The JSON API over SQLite and the real Redis server, through an HTTP client."""

from __future__ import annotations

from typing import Any

from inbox_desk import HOSTILE_NAME
from starlette.testclient import TestClient

from sessionary import Agent


def _paused(client: TestClient, session_id: str) -> dict[str, Any]:
    items = client.get("/api/approvals").json()["items"]
    (item,) = [i for i in items if i["session"]["session_id"] == session_id]
    (run,) = item["runs"]
    return run  # type: ignore[no-any-return]


def test_listing_is_ordered_by_last_activity_with_the_total(
    client: TestClient, ids: dict[str, str]
) -> None:
    data = client.get("/api/sessions").json()
    order = [s["session_id"] for s in data["items"]]
    assert order == [ids[k] for k in ("paused_b", "paused_a", "unnamed", "hostile", "named")]
    assert data["total"] == 5
    assert data["next_cursor"] is None
    first = data["items"][0]
    assert (first["name"], first["user_id"], first["paused_runs"]) == ("Refund for Dave", "dave", 1)
    assert first["last_run_status"] == "paused"


def test_listing_filters_pages_and_counts(client: TestClient, ids: dict[str, str]) -> None:
    def listed(**params: str) -> tuple[list[str], int]:
        data = client.get("/api/sessions", params=params).json()
        return [s["session_id"] for s in data["items"]], data["total"]

    assert listed(q="refund") == ([ids["paused_b"], ids["paused_a"]], 2)
    assert listed(user="alice") == ([ids["named"]], 1)
    assert listed(status="paused") == ([ids["paused_b"], ids["paused_a"]], 2)
    assert listed(paused="0", q="damaged") == ([ids["named"]], 1)
    assert listed(active_after="2000-01-01T00:00:00Z", paused="1")[1] == 2
    assert listed(active_before="2000-01-01")[1] == 0
    page = client.get("/api/sessions", params={"limit": "2"}).json()
    assert len(page["items"]) == 2 and page["total"] == 5
    rest = client.get("/api/sessions", params={"limit": "10", "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 3


def test_bad_filters_are_errors_with_the_command_lines_codes(client: TestClient) -> None:
    for params in ({"status": "sleeping"}, {"limit": "0"}, {"active_after": "yesterday"}):
        response = client.get("/api/sessions", params=params)
        assert response.status_code == 400, params
        error = response.json()["error"]
        assert (error["code"], error["exit_code"]) == ("bad_input", 2)
        assert next(iter(params)) in error["message"]
    missing = client.get("/api/session", params={"id": "no-such-session"})
    assert missing.status_code == 404
    assert missing.json()["error"]["exit_code"] == 3


def test_one_session_reads_its_summary_state_and_metadata(
    client: TestClient, agent: Agent, ids: dict[str, str]
) -> None:
    agent.update_session_state({"tier": "gold"}, session_id=ids["named"], user_id="alice")
    data = client.get("/api/session", params={"id": ids["named"]}).json()
    assert data["name"] == "Damaged order"
    assert data["state"] == {"tier": "gold"}
    assert data["run_count"] == 2
    assert "runs" not in data


def test_the_transcript_pages_back_through_runs(
    client: TestClient, agent: Agent, ids: dict[str, str]
) -> None:
    for n in range(23):
        agent.run(f"message {n}", session_id=ids["unnamed"], user_id="erin")
    page = client.get("/api/transcript", params={"id": ids["unnamed"]}).json()
    assert len(page["runs"]) == 20
    assert page["runs"][-1]["input"] == "message 22"
    assert page["runs"][-1]["messages"][-1]["content"] == "Noted: message 22"
    earlier = client.get(
        "/api/transcript", params={"id": ids["unnamed"], "before_run": page["earlier"]}
    ).json()
    assert [r["input"] for r in earlier["runs"]] == [
        "Where is my parcel?",
        "message 0",
        "message 1",
        "message 2",
    ]
    assert earlier["earlier"] is None
    unknown = client.get("/api/transcript", params={"id": ids["unnamed"], "before_run": "nope"})
    assert unknown.status_code == 404


def test_rename_goes_through_the_guardrails_and_autoname_names(
    client: TestClient, ids: dict[str, str]
) -> None:
    renamed = client.post("/api/rename", json={"session_id": ids["unnamed"], "name": "  Parcel  "})
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["name_source"]) == ("Parcel", "manual")
    refused = client.post("/api/rename", json={"session_id": ids["unnamed"], "name": "   "})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "bad_input"
    named = client.post("/api/autoname", json={"session_id": ids["hostile"]}).json()
    assert named["name"] and named["name_source"] not in (None, "manual")
    not_json = client.post(
        "/api/rename", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


def test_delete_removes_the_session(client: TestClient, ids: dict[str, str]) -> None:
    assert client.post("/api/delete", json={"session_id": ids["unnamed"]}).json() == {
        "deleted": ids["unnamed"]
    }
    assert client.get("/api/session", params={"id": ids["unnamed"]}).status_code == 404
    assert client.post("/api/delete", json={"session_id": ids["unnamed"]}).status_code == 404


def test_approve_continues_the_run_and_a_second_approval_is_a_conflict(
    client: TestClient, agent: Agent, ids: dict[str, str]
) -> None:
    run = _paused(client, ids["paused_a"])
    (requirement,) = run["requirements"]
    assert requirement["tool_call"]["name"] == "refund"
    assert requirement["tool_call"]["arguments"] == {"order_id": "C-3003", "amount": 25.0}
    answer = {"id": requirement["id"], "action": "confirm"}
    body = {"session_id": ids["paused_a"], "run_id": run["run_id"], "answers": [answer]}
    done = client.post("/api/continue", json=body)
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["content"]) == (
        "completed",
        "Done: refunded 25.00 on C-3003",
    )
    again = client.post("/api/continue", json=body)
    assert again.status_code == 409
    assert (again.json()["error"]["code"], again.json()["error"]["exit_code"]) == ("conflict", 6)
    assert "already continued" in again.json()["error"]["message"]
    stored = agent.get_run_output(run["run_id"], ids["paused_a"], user_id="carol")
    assert stored is not None and stored.content == "Done: refunded 25.00 on C-3003"
    assert client.get("/api/approvals").json()["total"] == 1


def test_reject_with_a_note_tells_the_model_and_runs_no_tool(
    client: TestClient, ids: dict[str, str]
) -> None:
    run = _paused(client, ids["paused_b"])
    answer = {"id": run["requirements"][0]["id"], "action": "reject", "note": "over the limit"}
    body = {"session_id": ids["paused_b"], "run_id": run["run_id"], "answers": [answer]}
    done = client.post("/api/continue", json=body).json()
    assert done["status"] == "completed"
    assert "refunded" not in done["content"]
    assert "over the limit" in done["content"]
    assert done["requirements"][0]["resolution"] == "rejected"


def test_bad_answers_are_refused_before_anything_runs(
    client: TestClient, ids: dict[str, str]
) -> None:
    run = _paused(client, ids["paused_a"])
    rid = run["requirements"][0]["id"]
    for answers in (
        "yes",
        [{"id": rid, "action": "maybe"}],
        [{"id": "other", "action": "confirm"}],
    ):
        body = {"session_id": ids["paused_a"], "run_id": run["run_id"], "answers": answers}
        response = client.post("/api/continue", json=body)
        assert response.status_code == 400, answers
    unanswered = {"session_id": ids["paused_a"], "run_id": run["run_id"], "answers": []}
    assert client.post("/api/continue", json=unanswered).status_code == 400
    assert _paused(client, ids["paused_a"])["status"] == "paused"


def test_without_an_agent_approvals_are_read_only_and_say_why(
    store: Agent, ids: dict[str, str]
) -> None:
    from sessionary_web import inbox_app

    with TestClient(inbox_app(store), base_url="http://127.0.0.1") as http:
        csrf = http.get("/api/csrf").json()["csrf_token"]
        queue = http.get("/api/approvals").json()
        assert queue["total"] == 2
        assert "--agent" in queue["read_only"]
        run = queue["items"][0]["runs"][0]
        answer = {"id": run["requirements"][0]["id"], "action": "confirm"}
        body = {"session_id": run["session_id"], "run_id": run["run_id"], "answers": [answer]}
        refused = http.post("/api/continue", json=body, headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 400
        assert "needs the application's agent" in refused.json()["error"]["message"]
        page = http.get("/approvals").text
        assert "Read-only" in page
        # Renames still work, through the installed naming policy.
        renamed = http.post(
            "/api/rename",
            json={"session_id": ids["unnamed"], "name": "Parcel"},
            headers={"X-CSRF-Token": csrf},
        )
        assert renamed.json()["name"] == "Parcel"


def test_a_user_scoped_inbox_shows_and_changes_only_that_users_sessions(
    agent: Agent, ids: dict[str, str]
) -> None:
    from sessionary_web import inbox_app

    with TestClient(inbox_app(agent, user_id="carol"), base_url="http://127.0.0.1") as http:
        csrf = {"X-CSRF-Token": http.get("/api/csrf").json()["csrf_token"]}
        data = http.get("/api/sessions", params={"user": "alice"}).json()
        assert [s["session_id"] for s in data["items"]] == [ids["paused_a"]]
        assert data["total"] == 1
        assert http.get("/api/session", params={"id": ids["named"]}).status_code == 404
        assert http.get("/api/transcript", params={"id": ids["named"]}).status_code == 404
        rename = {"session_id": ids["named"], "name": "Mine now"}
        assert http.post("/api/rename", json=rename, headers=csrf).status_code == 404
        assert (
            http.post("/api/delete", json={"session_id": ids["named"]}, headers=csrf).status_code
            == 404
        )
        queue = http.get("/api/approvals").json()
        assert [i["session"]["session_id"] for i in queue["items"]] == [ids["paused_a"]]
        assert ids["named"] not in http.get("/").text
    assert agent.get_session_name(session_id=ids["named"], user_id="alice") == "Damaged order"


def test_pages_escape_every_stored_string(client: TestClient, ids: dict[str, str]) -> None:
    inbox = client.get("/").text
    assert HOSTILE_NAME not in inbox
    assert "&lt;img src=x onerror=" in inbox
    transcript = client.get("/session", params={"id": ids["hostile"]}).text
    assert "<script>window.__pwned" not in transcript
    assert "&lt;script&gt;window.__pwned=2&lt;/script&gt;" in transcript


def test_any_session_id_links_to_its_transcript(client: TestClient, agent: Agent) -> None:
    odd = "a/b&c=d#e f+g?ü%20"
    agent.run("An odd ID", session_id=odd, user_id="olga")
    agent.set_session_name(session_id=odd, session_name="Odd one", user_id="olga")
    page = client.get("/", params={"q": "Odd one"}).text
    href = page.split('class="open" href="')[1].split('"')[0].replace("&amp;", "&")
    opened = client.get(href)
    assert opened.status_code == 200
    assert "Odd one" in opened.text and "An odd ID" in opened.text
