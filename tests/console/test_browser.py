"""The console in a real browser: Debian's chromium, headless, driven by Playwright.

Skipped (with the reason) where chromium or the playwright package is missing. Screenshots go
to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from fakes.ir_backend import ScriptedBackend, text_script, thinking_script, tool_script
from server_harness import ServerThread, make_settings

CHROMIUM = os.environ.get("LINGMA_PROXY_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    backend = ScriptedBackend(models=["qwen3-coder-30b", "llama-3.1-8b-instruct"])
    settings = make_settings(data_dir=str(tmp_path_factory.mktemp("console-data")))
    with ServerThread(settings, {"scripted": backend}) as s:
        oa = openai.OpenAI(base_url=s.url + "/v1", api_key="anything", max_retries=0, timeout=20)
        an = anthropic.Anthropic(base_url=s.url, api_key="anything", max_retries=0, timeout=20)
        for i in range(4):
            backend.push(*text_script(f"Answer number {i}", input_tokens=1200 + 17 * i, output_tokens=40 + i))
            oa.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": f"question {i}"}])
        backend.push(*thinking_script("Weighing the options", "The answer is 42"))
        with an.messages.stream(model="claude-sonnet-4-5", max_tokens=200,
                                messages=[{"role": "user", "content": "what is the answer?"}]) as stream:
            stream.get_final_message()
        backend.push(*tool_script(("call_1", "Read", '{"file_path": "/src/app.py"}'), text="Let me read it."))
        list(oa.chat.completions.create(model="gpt-5.5", stream=True, messages=[{"role": "user", "content": "read app.py"}],
                                        tools=[{"type": "function", "function": {"name": "Read", "parameters": {
                                            "type": "object", "properties": {"file_path": {"type": "string"}}}}}]))
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                              headless=True, args=ARGS)
        yield b
        b.close()


class Page:
    """A page that remembers every console error and uncaught exception."""

    def __init__(self, browser: Any, width: int = 1280, scheme: str = "light") -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"browser console errors: {self.errors}"


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    p = Page(browser)
    yield p
    p.close()


def test_the_console_lists_requests_made_through_the_proxy(server: ServerThread, page: Page) -> None:
    pg = page.page
    pg.goto(server.url + "/console#/requests")
    rows = pg.locator("tr[data-id]")
    sync_api.expect(rows).to_have_count(6)
    sync_api.expect(rows.first).to_contain_text("gpt-5.5")
    sync_api.expect(pg.locator("#requests-card")).to_contain_text("claude-sonnet-4-5")
    pg.get_by_role("button", name="5xx").click()
    sync_api.expect(pg.locator("#requests-card")).to_contain_text("No requests match")
    pg.get_by_role("button", name="All").click()
    sync_api.expect(rows).to_have_count(6)
    page.shot("requests")
    pg.goto(server.url + "/console#/dashboard")
    sync_api.expect(pg.locator("#dashboard")).to_contain_text("Requests today")
    sync_api.expect(pg.locator("#dashboard .kpi .value").first).to_have_text("6")
    page.shot("dashboard")


def test_a_request_detail_shows_bodies_message_and_events(server: ServerThread, page: Page) -> None:
    pg = page.page
    pg.goto(server.url + "/console#/requests")
    pg.locator("tr[data-id]").first.click()  # the newest: the streamed tool call
    sync_api.expect(pg.locator(".tabbar")).to_be_visible()
    assert "#/requests/" in pg.url
    sync_api.expect(pg.locator(".block").first).to_contain_text("Let me read it.")
    sync_api.expect(pg.get_by_text("tool call · Read · call_1")).to_be_visible()
    pg.get_by_role("tab", name="Request").click()
    sync_api.expect(pg.locator("pre.code")).to_contain_text('"read app.py"')
    pg.get_by_role("tab", name="Events").click()
    sync_api.expect(pg.locator(".event").first).to_be_visible()
    assert pg.locator(".event").count() > 3
    page.shot("request-detail")
    pg.get_by_role("link", name="← Requests").click()
    sync_api.expect(pg.locator("tr[data-id]")).to_have_count(6)


def test_the_theme_switches_and_sticks(server: ServerThread, page: Page) -> None:
    pg = page.page
    pg.goto(server.url + "/console#/dashboard")
    html = pg.locator("html")
    sync_api.expect(html).to_have_attribute("data-theme", "system")
    background = lambda: pg.evaluate("getComputedStyle(document.body).backgroundColor")  # noqa: E731
    light = background()
    pg.locator("#theme").click()
    sync_api.expect(html).to_have_attribute("data-theme", "light")
    pg.locator("#theme").click()
    sync_api.expect(html).to_have_attribute("data-theme", "dark")
    assert background() != light and background() == "rgb(13, 17, 23)"
    pg.reload()
    sync_api.expect(html).to_have_attribute("data-theme", "dark")
    sync_api.expect(pg.locator("#dashboard")).to_contain_text("Requests today")
    page.shot("dashboard-dark")
    pg.goto(server.url + "/console#/models")
    sync_api.expect(pg.locator(".model-id").first).to_have_text("qwen3-coder-30b")
    pg.goto(server.url + "/console#/logs")
    sync_api.expect(pg.locator("#log-lines")).to_be_visible()
    pg.locator("#theme").click()
    sync_api.expect(html).to_have_attribute("data-theme", "system")
    # "system" follows the operating system's preference, live
    pg.emulate_media(color_scheme="dark")
    sync_api.expect(html).to_have_attribute("data-scheme", "dark")
    assert background() == "rgb(13, 17, 23)"
    pg.emulate_media(color_scheme="light")
    sync_api.expect(html).to_have_attribute("data-scheme", "light")
    assert background() == light


def test_it_works_420_px_wide(server: ServerThread, browser: Any) -> None:
    p = Page(browser, width=420)
    pg = p.page
    try:
        for route, ready in (("dashboard", "#dashboard .kpi"), ("requests", "tr[data-id]"), ("models", ".model-id"),
                             ("settings", ".setting"), ("logs", "#log-lines")):
            pg.goto(f"{server.url}/console#/{route}")
            sync_api.expect(pg.locator(ready).first).to_be_visible()
            overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{route} is {overflow}px wider than a 420px window"
            sync_api.expect(pg.locator(".tabs a", has_text="Logs")).to_be_attached()
            p.shot(f"{route}-420")
        pg.goto(server.url + "/console#/requests")
        pg.locator("tr[data-id]").first.click()
        sync_api.expect(pg.locator(".tabbar")).to_be_visible()
        assert pg.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        p.shot("request-detail-420")
    finally:
        p.close()
