"""Discovery routes, CORS, auth, limits and odd requests: the HTTP surface without SDKs."""

from __future__ import annotations

import httpx
import openai

from fakes.ir_backend import ScriptedBackend
from server_harness import ServerThread, make_settings_fast_ping


def test_models_and_discovery_shapes(server) -> None:
    c = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
    assert [m.id for m in c.models.list()] == ["test-model"]
    assert c.models.retrieve("test-model").id == "test-model"
    assert httpx.get(server.url + "/v1/models/nope").status_code == 404
    assert httpx.get(server.url + "/api/tags").json()["models"][0]["name"] == "test-model"
    assert httpx.get(server.url + "/api/v1/models").json()["models"][0]["id"] == "test-model"
    assert httpx.get(server.url + "/props").json()["model_alias"] == "test-model"
    caps = httpx.get(server.url + "/v1/capabilities").json()
    assert caps["backends"][0]["name"] == "scripted" and caps["features"]["tools"] is True
    assert httpx.get(server.url + "/version").json()["service"] == "lingma-proxy"
    h = httpx.get(server.url + "/health").json()
    assert h["ok"] is True and h["backends"][0]["ok"] is True
    assert httpx.head(server.url + "/").status_code == 200


def test_cors_preflight_allows_sdk_headers(server) -> None:
    r = httpx.options(server.url + "/v1/messages", headers={
        "origin": "http://localhost:3000", "access-control-request-method": "POST",
        "access-control-request-headers": "anthropic-beta,anthropic-version,x-api-key,content-type,openai-beta"})
    assert r.status_code == 200
    allowed = r.headers["access-control-allow-headers"].lower()
    for h in ("anthropic-beta", "anthropic-version", "openai-beta", "x-api-key"):
        assert h in allowed


def test_unknown_path_and_wrong_method(server) -> None:
    r = httpx.get(server.url + "/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    r = httpx.get(server.url + "/v1/messages")
    assert r.status_code == 405 and r.json()["type"] == "error"


def test_oversize_body_is_413() -> None:
    backend = ScriptedBackend()
    with ServerThread(make_settings_fast_ping(max_body_bytes=1000), {"scripted": backend}) as srv:
        r = httpx.post(srv.url + "/v1/messages", content=b"{" + b" " * 5000 + b"}")
        assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
        r = httpx.post(srv.url + "/v1/chat/completions", content=iter([b"{", b" " * 3000, b"}"]))
        assert r.status_code == 413


def test_api_key_required_when_configured() -> None:
    backend = ScriptedBackend()
    with ServerThread(make_settings_fast_ping(api_key="s3cret-key"), {"scripted": backend}) as srv:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        r = httpx.post(srv.url + "/v1/chat/completions", json=body)
        assert r.status_code == 401 and "s3cret" not in r.text
        assert httpx.post(srv.url + "/v1/chat/completions", json=body,
                          headers={"authorization": "Bearer s3cret-key"}).status_code == 200
        r = httpx.post(srv.url + "/v1/messages", json={**body, "max_tokens": 3}, headers={"x-api-key": "wrong"})
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert httpx.get(srv.url + "/health").status_code == 200


def test_no_backend_configured_says_what_to_do() -> None:
    from lingma_proxy.config import Settings

    with ServerThread(Settings(backend="scripted"), {}) as srv:
        r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 503 and "backend" in r.json()["error"]["message"]
        h = httpx.get(srv.url + "/health")
        assert h.status_code == 503 and h.json()["ok"] is False
