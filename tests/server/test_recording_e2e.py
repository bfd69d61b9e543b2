"""Recording through the real server: secrets never reach the disk, a stalled writer costs requests
nothing, the debug endpoints and the console API answer, and only loopback or the admin key get in."""

from __future__ import annotations

import base64
import io
import statistics
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.testclient import TestClient

from fakes.ir_backend import ScriptedBackend, text_script, thinking_script
from lingma_proxy.server.app import create_app
from lingma_proxy.storage.recorder import Recorder
from server_harness import ServerThread, make_settings
from storage.test_recording import StalledWriter

CLIENT_KEY = "sk-client-0123456789abcdefXYZ"
BODY_KEY = "sk-ant-api03-BODYKEY0123456789abcdef"
UPSTREAM_KEY = "lm-upstream-secret-31337"
ADMIN_KEY = "adm-5f1e2d3c4b5a6978"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40).decode()


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[ServerThread, ScriptedBackend, Path]]:
    backend = ScriptedBackend()
    settings = make_settings(data_dir=str(tmp_path), openai_api_key=UPSTREAM_KEY, admin_key=ADMIN_KEY)
    with ServerThread(settings, {"scripted": backend}) as server:
        yield server, backend, tmp_path


def chat(server: ServerThread, content: Any, **kw: Any) -> Any:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    return client.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": content}], **kw)


def wait_recorded(server: ServerThread, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        rows = httpx.get(server.url + "/console/api/requests?limit=200").json()["requests"]
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_secrets_and_images_never_reach_the_database_file(recorded: tuple[ServerThread, ScriptedBackend, Path]) -> None:
    server, backend, data_dir = recorded
    backend.push(*text_script(f"echo {BODY_KEY} and {UPSTREAM_KEY}"))
    chat(server, [{"type": "text", "text": f"keys: {BODY_KEY} {UPSTREAM_KEY} {ADMIN_KEY}"},
                  {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}],
         extra_body={"metadata": {"api_key": "plainvalue-not-keylike"}})
    backend.push(*thinking_script("thinking", f"streamed {BODY_KEY}"))
    list(chat(server, "stream it", stream=True))
    rows = wait_recorded(server, 2)
    assert len(rows) == 2
    detail = httpx.get(f"{server.url}/console/api/requests/{rows[1]['id']}").json()
    assert "[REDACTED]" in detail["request"] and "[image/png data URL, " in detail["request"]
    assert "plainvalue-not-keylike" not in detail["request"]
    stream = httpx.get(f"{server.url}/console/api/requests/{rows[0]['id']}").json()
    assert stream["events"] and stream["message"] and "[REDACTED]" in stream["message"]
    server.__exit__(None, None, None)  # flush: the recorder writes what is queued on shutdown
    files = list(data_dir.rglob("*"))
    assert any(f.name == "proxy.db" for f in files)
    raw = b"".join(f.read_bytes() for f in files if f.is_file())
    for secret in (CLIENT_KEY, BODY_KEY, UPSTREAM_KEY, ADMIN_KEY, "plainvalue-not-keylike", PNG[:200]):
        assert secret.encode() not in raw, f"{secret[:12]}... is in the data directory"


def test_a_stalled_writer_does_not_change_request_latency(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    with ServerThread(make_settings(data_dir=str(tmp_path)), {"scripted": backend}) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

        def timed(n: int) -> list[float]:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                assert client.post("/v1/chat/completions", json=body).status_code == 200
                out.append(time.perf_counter() - t0)
            return out

        baseline = statistics.median(timed(30))
        obs = server.app.state.obs
        writer = StalledWriter()
        obs.recorder.close()
        obs.recorder = Recorder(obs.path, queue_size=4, write=writer)
        obs.install(server.app.state.relay)
        timed(1)
        assert writer.entered.wait(5)
        stalled = timed(40)
        assert max(stalled) < 1.0
        assert statistics.median(stalled) < baseline * 3 + 0.01, (baseline, statistics.median(stalled))
        assert obs.recorder.dropped == 40 - 4
        assert httpx.get(server.url + "/console/api/overview").json()["recording"]["dropped"] == 36
        writer.release.set()


def test_debug_endpoints_newest_first_with_reference_fields(recorded: tuple[ServerThread, ScriptedBackend, Path]) -> None:
    server, backend, _ = recorded
    for i in range(3):
        backend.push(*text_script(f"answer {i}"))
        chat(server, f"question {i}")
    wait_recorded(server, 3)
    r = httpx.get(server.url + "/debug/requests?limit=2").json()
    assert r["ok"] and r["service"] == "lingma-proxy" and r["count"] == 2
    first = r["requests"][0]
    assert first["statusCode"] == 200 and first["path"] == "/v1/chat/completions" and "durationMs" in first
    assert "question 2" in first["request"] and "answer 2" in first["response"]
    assert r["requests"][1]["ts"] <= first["ts"]
    assert httpx.get(server.url + "/api/requests?limit=zzz").json()["count"] == 3  # bad limit: default 50
    access = httpx.get(server.url + "/debug/access-logs").json()
    assert access["kind"] == "http_access_logs" and access["count"] == 3
    assert access["logs"][0]["message"].startswith("POST /v1/chat/completions -> 200 (")
    assert httpx.get(server.url + "/api/access-logs?limit=1").json()["count"] == 1
    logs = httpx.get(server.url + "/debug/logs").json()
    assert logs["kind"] == "app_logs" and isinstance(logs["logs"], list)
    assert httpx.head(server.url + "/api/logs").status_code == 200


def test_console_api_overview_bundle_and_probe(recorded: tuple[ServerThread, ScriptedBackend, Path]) -> None:
    server, backend, _ = recorded
    backend.push(*text_script("hello", input_tokens=40, output_tokens=7))
    chat(server, "hi")
    wait_recorded(server, 1)
    o = httpx.get(server.url + "/console/api/overview").json()
    assert o["today"]["input_tokens"] == 40 and o["today"]["output_tokens"] == 7
    assert o["backends"][0]["name"] == "scripted" and o["recording"]["enabled"] is True
    assert len(o["per_minute"]) == 60 and o["recent"][0]["status"] == 200
    models = httpx.get(server.url + "/console/api/models").json()
    assert [m["id"] for m in models["backends"][0]["models"]] == ["test-model"]
    backend.push(*text_script("OK"))
    probe = httpx.post(server.url + "/console/api/probe", json={"model": "test-model"}).json()
    assert probe["ok"] is True and probe["text"] == "OK"
    assert httpx.post(server.url + "/console/api/probe", content=b'{"model":"x"}').status_code == 415  # not JSON-typed
    z = httpx.get(server.url + "/console/api/feedback-bundle")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as bundle:
        names = set(bundle.namelist())
        text = b"".join(bundle.read(n) for n in names)
    assert {"manifest.json", "config.json", "requests.json", "logs.json", "versions.json"} <= names
    for secret in (UPSTREAM_KEY, ADMIN_KEY):
        assert secret.encode() not in text


# ----------------------------------------------------------------------------- the access rule


ADMIN_URLS = ["/debug/requests", "/api/requests", "/debug/access-logs", "/api/access-logs", "/debug/logs",
              "/api/logs", "/console", "/console/api/overview", "/console/api/requests"]


def client_from(host: str, admin_key: str | None = None, api_key: str | None = None) -> TestClient:
    settings = make_settings(record=False, admin_key=admin_key, api_key=api_key)
    return TestClient(create_app(settings, {"scripted": ScriptedBackend()}), base_url="http://127.0.0.1:8095",
                      client=(host, 40000))


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_loopback_only_without_an_admin_key(url: str) -> None:
    with client_from("127.0.0.1") as c:
        assert c.get(url).status_code == 200
        assert c.get(url, headers={"origin": "https://evil.example"}).status_code == 403
        assert c.get(url, headers={"host": "rebind.evil.example"}).status_code == 403  # DNS rebinding
    with client_from("192.168.1.20") as c:
        assert c.get(url).status_code == 403
        assert c.get(url, headers={"x-admin-key": "guess"}).status_code == 403


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_the_admin_key_opens_them_to_other_hosts(url: str) -> None:
    with client_from("192.168.1.20", admin_key=ADMIN_KEY, api_key="client-key-123") as c:
        denied = c.get(url)
        assert denied.status_code in (401, 403)
        assert c.get(url, headers={"x-admin-key": ADMIN_KEY}).status_code == 200
        assert c.get(url, headers={"authorization": f"Bearer {ADMIN_KEY}"}).status_code == 200
        assert c.get(url, headers={"x-admin-key": "client-key-123"}).status_code in (401, 403)
        # the client API key alone does not open them
        assert c.get(url, headers={"authorization": "Bearer client-key-123"}).status_code in (401, 403)


def test_console_sign_in_sets_a_cookie_that_is_not_the_key() -> None:
    with client_from("192.168.1.20", admin_key=ADMIN_KEY) as c:
        page = c.get("/console")
        assert page.status_code == 401 and 'name="key"' in page.text
        bad = c.post("/console/login", content=b"key=nope", headers={"content-type": "application/x-www-form-urlencoded"})
        assert bad.status_code == 401
        ok = c.post("/console/login", content=f"key={ADMIN_KEY}".encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"}, follow_redirects=False)
        assert ok.status_code == 303 and ADMIN_KEY not in ok.headers["set-cookie"]
        assert "HttpOnly" in ok.headers["set-cookie"] and "SameSite=strict" in ok.headers["set-cookie"]
        assert c.get("/console").status_code == 200
        assert c.get("/console/api/overview").status_code == 200
        assert c.get("/console/static/app.js").status_code == 200


def test_recording_off_keeps_summaries_in_memory() -> None:
    backend = ScriptedBackend()
    with ServerThread(make_settings(record=False), {"scripted": backend}) as server:
        chat(server, "hi")
        rows = httpx.get(server.url + "/console/api/requests").json()
        assert rows["recording"]["enabled"] is False and len(rows["requests"]) == 1
        assert httpx.get(f"{server.url}/console/api/requests/{rows['requests'][0]['id']}").status_code == 404
        assert httpx.get(server.url + "/debug/requests").json()["count"] == 1
