"""A dialect from a third-party distribution: found through the ``lingma_proxy.dialects`` entry
points exactly as the built-ins are (a ``.dist-info`` on ``sys.path``, read by importlib.metadata),
served by the real server with routes, error shape, key place and capabilities derived from it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from fakes.ir_backend import ScriptedBackend, text_script
from lingma_proxy.dialects import registry
from server_harness import ServerThread, make_settings

PLUGIN = '''
from dataclasses import replace
from lingma_proxy.dialects import openai_chat
from lingma_proxy.dialects.base import Key, Options, Route

DIALECT = replace(openai_chat.DIALECT, name="plugin_chat",
                  routes=(Route("/plugin/v1/chat/completions"),),
                  options=Options(protocols=("plugin.chat",), discovery={"plugin_chat": "/plugin/v1/chat/completions"},
                                  error_prefixes=("/plugin/",), keys=(Key("header", "x-plugin-key"),)))
IMPOSTOR = replace(openai_chat.DIALECT, routes=(Route("/impostor/chat/completions"),))
'''
ENTRY_POINTS = """[lingma_proxy.dialects]
plugin_chat = lingma_dialect_plugin:DIALECT
impostor = lingma_dialect_plugin:IMPOSTOR
broken = lingma_dialect_plugin_missing:DIALECT
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    (tmp_path / "lingma_dialect_plugin.py").write_text(PLUGIN)
    info = tmp_path / "lingma_dialect_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lingma-dialect-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(tmp_path))
    registry.all_dialects.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lingma_dialect_plugin", None)
        registry.all_dialects.cache_clear()


def test_a_plugin_dialect_is_registered_and_a_bad_one_is_not(plugin: None) -> None:
    names = [d.name for d in registry.all_dialects()]
    assert "plugin_chat" in names
    assert names.count("openai_chat") == 1  # the impostor reusing a built-in name is refused
    assert registry.by_name("openai_chat") is not None
    assert not any(r.path.startswith("/impostor") for d in registry.all_dialects() for r in d.routes)


def test_the_server_serves_a_plugin_dialect(plugin: None) -> None:
    backend = ScriptedBackend()
    backend.push(*text_script("from the plugin"))
    backend.push(*text_script("streamed from the plugin"))
    with ServerThread(make_settings(api_key="plugin-secret-key-123"), {"scripted": backend}) as srv:
        c = openai.OpenAI(base_url=srv.url + "/plugin/v1", api_key="unused", max_retries=0,
                          default_headers={"x-plugin-key": "plugin-secret-key-123"})
        r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content == "from the plugin"
        chunks = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "streamed from the plugin"
        refused = httpx.post(srv.url + "/plugin/v1/chat/completions", json={}, timeout=10)
        assert refused.status_code == 401 and "`x-plugin-key`" in refused.json()["error"]["message"]
        caps = httpx.get(srv.url + "/v1/capabilities", headers={"x-plugin-key": "plugin-secret-key-123"},
                         timeout=10).json()
        assert "plugin.chat" in caps["protocols"] and caps["endpoints"]["plugin_chat"] == "/plugin/v1/chat/completions"
        missing = httpx.get(srv.url + "/plugin/nothing", headers={"x-plugin-key": "plugin-secret-key-123"}, timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
