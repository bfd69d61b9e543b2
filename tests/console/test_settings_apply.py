"""The console's settings: validated by the config loader, applied by restarting the core in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from fakes.openai_upstream import FakeOpenAIUpstream
from lingma_proxy.config import load_settings
from server_harness import ServerThread


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerThread, FakeOpenAIUpstream, Path]]:
    monkeypatch.chdir(tmp_path)  # no config file is found but the one the test writes
    monkeypatch.setenv("HOME", str(tmp_path))
    fake = FakeOpenAIUpstream().start_thread()
    settings = load_settings({"backend": "openai", "openai_base_url": fake.base_url, "data_dir": str(tmp_path),
                              "openai_api_key": "sk-upstream-0123456789abcdef"}, {}, tmp_path, tmp_path)
    try:
        with ServerThread(settings) as server:
            yield server, fake, tmp_path
    finally:
        fake.stop_thread()


def chat(server: ServerThread) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", timeout=10,
                      json={"model": "anything", "messages": [{"role": "user", "content": "hi"}]})


def test_view_shows_masked_values_and_origins(served: tuple[ServerThread, FakeOpenAIUpstream, Path]) -> None:
    server, _, _ = served
    v = httpx.get(server.url + "/console/api/settings").json()
    assert v["origins"]["openai_base_url"] == "flag --openai-base-url" and v["origins"]["port"] == "default"
    assert v["values"]["openai_api_key"] == "sk-…cdef"
    assert b"0123456789abcdef" not in orjson.dumps(v)
    assert {k["name"] for k in v["keys"]} >= {"port", "model", "admin_key", "record", "retention_days"}


def test_bad_values_are_refused_naming_the_key(served: tuple[ServerThread, FakeOpenAIUpstream, Path]) -> None:
    server, _, _ = served
    before = server.app.state.relay
    r = httpx.post(server.url + "/console/api/settings", json={"values": {"max_concurrent": "lots"}})
    assert r.status_code == 400
    assert r.json()["error"] == {"message": "max_concurrent must be an integer, got lots (from the console)",
                                 "key": "max_concurrent"}
    r = httpx.post(server.url + "/console/api/settings", json={"values": {"backend": "nowhere"}})
    assert r.status_code == 400 and r.json()["error"]["key"] == "backend"
    r = httpx.post(server.url + "/console/api/settings", json={"values": {"routes": []}})
    assert r.status_code == 400
    assert server.app.state.relay is before  # nothing was restarted


def test_apply_restarts_the_core_without_leaving_the_process(served: tuple[ServerThread, FakeOpenAIUpstream, Path]) -> None:
    server, fake, home = served
    assert chat(server).status_code == 200
    before = server.app.state.relay
    r = httpx.post(server.url + "/console/api/settings", json={"values": {"model": "fake-model-b", "port": "9999"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["changed"]) == ["model", "port"] and body["needs_process_restart"] == ["port"]
    assert body["settings"]["origins"]["model"] == "console"
    assert server.app.state.relay is not before and server.app.state.settings.model == "fake-model-b"
    assert server.app.state.relay.response_store is before.response_store
    assert chat(server).status_code == 200  # same process, same port, new core
    assert fake.chat_requests()[-1].json["model"] == "fake-model-b"
    # earlier edits and flags carry over to the next edit; null puts a key back to its default
    r = httpx.post(server.url + "/console/api/settings", json={"values": {"tool_mode": "emulate", "port": None},
                                                              "save": True})
    assert r.status_code == 200
    s = server.app.state.settings
    assert (s.model, s.tool_mode, s.port, s.openai_base_url) == ("fake-model-b", "emulate", 8095, fake.base_url)
    saved = home / ".config" / "lingma-proxy" / "config.json"
    assert r.json()["saved_to"] == str(saved) and orjson.loads(saved.read_bytes()) == {"tool_mode": "emulate"}
    assert chat(server).status_code == 200
