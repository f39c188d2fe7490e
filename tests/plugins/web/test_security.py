"""Safe by default: the token, cross-site writes, host names, escaping and secrets."""

from __future__ import annotations

import pytest
from sessionary_cli.errors import code_for
from starlette.testclient import TestClient

from sessionary import Agent, errors

TOKEN = "s3cret-token-for-tests"


def test_posts_without_the_csrf_token_or_from_another_site_are_refused(
    client: TestClient, ids: dict[str, str]
) -> None:
    body = {"session_id": ids["unnamed"], "name": "Hijacked"}
    good = client.headers["X-CSRF-Token"]
    attempts = [
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": "guess"},
        {"X-CSRF-Token": good, "Origin": "http://evil.example"},
        {"X-CSRF-Token": good, "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in attempts:
        response = client.post("/api/rename", json=body, headers=headers)
        assert response.status_code == 403, headers
        assert response.json()["error"]["code"] in ("csrf", "cross_site")
    assert client.get("/api/session", params={"id": ids["unnamed"]}).json()["name"] is None
    same_origin = {"X-CSRF-Token": good, "Origin": "http://127.0.0.1"}
    assert client.post("/api/rename", json=body, headers=same_origin).status_code == 200


def test_with_a_token_every_request_needs_it(agent: Agent, ids: dict[str, str]) -> None:
    from sessionary_web import inbox_app

    app = inbox_app(agent, token=TOKEN)
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as http:
        assert http.get("/").status_code == 401
        assert http.get("/api/sessions").status_code == 401
        assert http.get("/static/inbox.css").status_code == 401
        assert http.get("/?token=wrong").status_code == 401
        opened = http.get("/", params={"token": TOKEN, "q": "refund"})
        assert opened.status_code == 303
        assert opened.headers["location"] == "/?q=refund"
        assert "httponly" in opened.headers["set-cookie"].lower()
        page = http.get("/?q=refund")
        assert page.status_code == 200
        assert TOKEN not in page.text
    with TestClient(app, base_url="http://127.0.0.1") as script:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert script.get("/api/sessions", headers=bearer).json()["total"] == 5
        rename = {"session_id": ids["unnamed"], "name": "By script"}
        assert script.post("/api/rename", json=rename, headers=bearer).status_code == 200
        wrong = {"Authorization": "Bearer nope"}
        assert script.post("/api/rename", json=rename, headers=wrong).status_code == 401


def test_allowed_hosts_refuse_other_host_names(agent: Agent, ids: dict[str, str]) -> None:
    from sessionary_web import inbox_app

    app = inbox_app(agent, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as http:
        assert http.get("/").status_code == 200
        assert http.get("/", headers={"Host": "localhost:8000"}).status_code == 200
        assert http.get("/", headers={"Host": "rebound.example:8000"}).status_code == 400


def test_no_store_url_or_credential_is_ever_shown(tmp_path: object) -> None:
    from sessionary_web import inbox_app
    from sessionary_web.errors import public_message

    url = "memory://hidden-store-name"
    with TestClient(inbox_app(url), base_url="http://127.0.0.1") as http:
        for path in ("/", "/approvals", "/api/sessions", "/session?id=missing"):
            assert "hidden-store-name" not in http.get(path).text
    failure = errors.StoreUnavailableError("cannot reach redis://admin:hunter2@db:6379/0")
    assert "hunter2" not in public_message(failure)
    assert "unexpected ValueError" in public_message(ValueError("secret detail"))
    assert "secret detail" not in public_message(ValueError("secret detail"))


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidInputError("x"),
        errors.SessionNotFoundError("s"),
        errors.RunNotFoundError("s", "r"),
        errors.OwnershipError("s", "u"),
        errors.StoreUnavailableError("x"),
        errors.ConflictError("x"),
        errors.RunAlreadyContinuedError("s", "r", "completed"),
        errors.SchemaVersionError("x"),
        errors.CorruptStoreError("x"),
        errors.CorruptRecordError("s", "x"),
        errors.UnresolvedRequirementError("x"),
        errors.RunExpiredError("x"),
        errors.ModelError("x"),
        RuntimeError("x"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_api_error_codes_are_the_command_lines(error: BaseException) -> None:
    from sessionary_web.errors import error_code

    assert error_code(error)[1] == int(code_for(error))
