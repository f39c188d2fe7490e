"""The inbox in a real browser: Debian's headless Chromium, driven by Playwright.

The tests start the server themselves (uvicorn on a free port, in a thread), on a
SQLite file and on the real Redis server, and wait on what the page shows, never on
time. Screenshots land in ``tmp/artifacts/web/`` (``SESSIONARY_ARTIFACTS`` overrides).
Playwright downloads no browser: it launches ``/usr/bin/chromium``
(``SESSIONARY_CHROMIUM`` overrides); ``.ci/run`` installs it when it is missing.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from inbox_desk import HOSTILE_NAME
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from redis_support import free_port

from sessionary import Agent

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("SESSIONARY_ARTIFACTS", ROOT / "tmp" / "artifacts")) / "web"
CHROMIUM = os.environ.get("SESSIONARY_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def base_url(agent: Agent, ids: dict[str, str]) -> Iterator[str]:
    """The inbox over the desk agent, served by uvicorn on a free port in a thread."""
    from sessionary_web import inbox_app

    port = free_port()
    config = uvicorn.Config(inbox_app(agent), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn sets it once the socket listens
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def shot(page: Page, request: pytest.FixtureRequest, name: str) -> None:
    """Save a screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^\w.-]+", "_", request.node.name)
    page.screenshot(path=str(ARTIFACTS / f"{test}-{name}.png"), full_page=True)


def ready(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


def test_the_inbox_lists_sessions_by_last_activity(
    page: Page, request: pytest.FixtureRequest
) -> None:
    ready(page, "/")
    rows = page.locator("#sessions li.row")
    expect(rows).to_have_count(5)
    expect(rows.locator(".name")).to_have_text(
        ["Refund for Dave", "Refund for Carol", "Unnamed session", HOSTILE_NAME, "Damaged order"]
    )
    expect(page.locator("#sessions .badge.paused")).to_have_count(2)
    expect(page.locator("#total")).to_have_text("5 sessions")
    shot(page, request, "inbox")
    page.set_viewport_size({"width": 360, "height": 740})
    expect(rows.first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, request, "inbox-360")


def test_search_by_name(page: Page, request: pytest.FixtureRequest) -> None:
    ready(page, "/")
    page.get_by_label("Search by name").fill("refund")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=refund"))
    expect(page.locator("#sessions .name")).to_have_text(["Refund for Dave", "Refund for Carol"])
    expect(page.locator("#total")).to_have_text("2 sessions")
    page.get_by_label("Search by name").fill("no such thing")
    page.keyboard.press("Enter")
    expect(page.locator("#sessions-empty")).to_be_visible()
    shot(page, request, "search")


def test_open_a_transcript_with_tool_calls_and_results(
    page: Page, request: pytest.FixtureRequest
) -> None:
    ready(page, "/")
    page.get_by_role("link", name=re.compile("Damaged order")).click()
    expect(page.locator("#session-name")).to_have_text("Damaged order")
    transcript = page.locator("#transcript")
    expect(transcript.locator(".msg.user").first).to_contain_text("arrived broken")
    expect(transcript.locator(".call")).to_contain_text("order_status")
    expect(transcript.locator(".msg.tool")).to_contain_text("damaged in transit")
    expect(transcript.locator("li.run")).to_have_count(2)
    shot(page, request, "transcript")


def test_rename_inline_and_name_it(
    page: Page, ids: dict[str, str], request: pytest.FixtureRequest
) -> None:
    ready(page, f"/session?id={ids['unnamed']}")
    expect(page.locator("#session-name")).to_have_text("Unnamed session")
    page.get_by_role("button", name="Name it").click()
    expect(page.locator("#session-name")).not_to_have_text("Unnamed session")
    expect(page.locator("#name-source")).not_to_have_text("manual")
    page.get_by_role("button", name="Rename").click()
    field = page.get_by_label("New name")
    expect(field).to_be_focused()
    field.fill("Lost parcel")
    field.press("Enter")
    expect(page.locator("#session-name")).to_have_text("Lost parcel")
    expect(page.locator("#name-source")).to_have_text("manual")
    shot(page, request, "renamed")
    ready(page, f"/session?id={ids['unnamed']}")
    expect(page.locator("#session-name")).to_have_text("Lost parcel")


def _approval(page: Page, session_id: str) -> object:
    return page.locator(f'form.approval[data-session-id="{session_id}"]')


def test_approve_a_paused_run_and_see_its_result(
    page: Page, ids: dict[str, str], agent: Agent, request: pytest.FixtureRequest
) -> None:
    ready(page, "/approvals")
    expect(page.locator("#total")).to_have_text("2 sessions waiting")
    form = page.locator(f'form.approval[data-session-id="{ids["paused_a"]}"]')
    expect(form.locator("legend")).to_contain_text("refund")
    expect(form.locator("pre.args")).to_contain_text('"order_id": "C-3003"')
    shot(page, request, "approvals")
    form.get_by_label("Approve").focus()  # the keyboard alone: Tab past the note, Enter
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(form.get_by_role("button", name="Continue run")).to_be_focused()
    page.keyboard.press("Enter")
    expect(form.locator("output")).to_have_text("completed: Done: refunded 25.00 on C-3003")
    expect(form).to_have_attribute("data-state", "completed")
    shot(page, request, "approved")
    ready(page, "/approvals")
    expect(page.locator("#total")).to_have_text("1 session waiting")
    info = agent.db.get_session_info(ids["paused_a"])
    assert info is not None and info.paused_runs == 0


def test_reject_another_with_a_note(
    page: Page, ids: dict[str, str], request: pytest.FixtureRequest
) -> None:
    ready(page, "/approvals")
    form = page.locator(f'form.approval[data-session-id="{ids["paused_b"]}"]')
    form.get_by_label("Reject").check()
    form.get_by_label("Note").fill("over the refund limit")
    form.get_by_role("button", name="Continue run").click()
    expect(form).to_have_attribute("data-state", "completed")
    expect(form.locator("output")).to_contain_text("over the refund limit")
    expect(form.locator("output")).not_to_contain_text("refunded 90")
    shot(page, request, "rejected")


def test_hostile_names_and_messages_show_as_text_and_run_no_script(
    page: Page, ids: dict[str, str], request: pytest.FixtureRequest
) -> None:
    ready(page, "/")
    hostile = page.locator(f'li.row[data-session-id="{ids["hostile"]}"] .name')
    expect(hostile).to_have_text(HOSTILE_NAME)
    assert page.locator("#sessions img").count() == 0
    hostile.click()
    expect(page.locator("#session-name")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#transcript .msg.user")).to_contain_text(
        "<script>window.__pwned=2</script>"
    )
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("New name").fill('<b>bold</b><img src=y onerror="window.__pwned=3">')
    page.get_by_label("New name").press("Enter")
    expect(page.locator("#session-name")).to_have_text(
        '<b>bold</b><img src=y onerror="window.__pwned=3">'
    )
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main b, main script").count() == 0
    shot(page, request, "hostile")


def test_two_tabs_approving_one_run_one_wins_the_other_is_told(
    browser: Browser, base_url: str, ids: dict[str, str], request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 900, "height": 700})
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        ready(tab, "/approvals")
    forms = [
        tab.locator(f'form.approval[data-session-id="{ids["paused_a"]}"]')
        for tab in (first, second)
    ]
    for form in forms:  # both clicked before either answer arrives
        form.get_by_role("button", name="Continue run").click(no_wait_after=True)
    for form in forms:
        expect(form).to_have_attribute("data-state", re.compile("^(completed|conflict)$"))
    states = sorted(form.get_attribute("data-state") or "" for form in forms)
    assert states == ["completed", "conflict"]
    loser = next(f for f in forms if f.get_attribute("data-state") == "conflict")
    expect(loser.locator("output")).to_contain_text("Already continued")
    expect(loser.get_by_role("button", name="Continue run")).to_be_disabled()
    for n, tab in enumerate((first, second)):
        shot(tab, request, f"tab{n + 1}")
    context.close()
