"""Recording loses nothing under load (issue #10, slice E), through the real server.

* 2,000 streaming and non-streaming requests from 32 concurrent clients on every client API,
  against the OpenAI-compatible fake upstream, and 600 against the Anthropic one (its Messages
  passthrough included): every request has its row in SQLite, nothing is dropped, and the
  console API and the ``requests`` / ``stats`` commands show them all.
* Time to first byte is recorded for streams whose whole answer arrives in one write.
* When the queue is forced tiny and the writer stalls, the overflow is counted and shown on
  /health and in the console's overview; the requests themselves are unaffected.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from click.testing import CliRunner

from fakes.anthropic_upstream import FakeAnthropicUpstream
from fakes.ir_backend import ScriptedBackend, text_script
from fakes.openai_upstream import FakeOpenAIUpstream
from isolation import isolate
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.backends.openai_compat import OpenAICompatBackend
from lingma_proxy.cli.main import cli
from lingma_proxy.storage import db
from server_harness import ServerThread, make_settings
from storage.test_recording import StalledWriter

APIS = ("chat", "responses", "messages")
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "any"}
PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}


def body(api: str, model: str, stream: bool, i: int) -> bytes:
    text = f"question number {i}"
    if api == "chat":
        return orjson.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
    if api == "responses":
        return orjson.dumps({"model": model, "stream": stream, "input": text, "store": False})
    return orjson.dumps({"model": model, "stream": stream, "max_tokens": 64,
                         "messages": [{"role": "user", "content": text}]})


async def blast(url: str, model: str, n: int, concurrency: int, time_limit: float) -> dict[str, int]:
    """``n`` requests cycling through every API x stream/non-stream, ``concurrency`` at a time."""
    jobs = iter([(api, stream, i) for i, (api, stream) in zip(range(n), itertools.cycle(
        [(a, s) for a in APIS for s in (True, False)]))])
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + time_limit

    async def worker(session: aiohttp.ClientSession) -> None:
        for api, stream, i in jobs:
            if time.monotonic() > deadline:
                return
            async with session.post(url + PATHS[api], data=body(api, model, stream, i), headers=HEADERS) as resp:
                raw = await resp.read()
                key = f"{resp.status}"
                statuses[key] = statuses.get(key, 0) + 1
                if resp.status == 200 and stream:
                    assert raw.rstrip().endswith((b"[DONE]", b'"message_stop"}', b"}")), raw[-200:]

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return statuses


def wait_written(server: ServerThread, n: int, timeout: float = 60.0) -> dict[str, Any]:
    obs = server.app.state.obs
    deadline = time.monotonic() + timeout
    while True:
        status = obs.status()
        if (status["written"] >= n and not status["queued"]) or time.monotonic() > deadline:
            return dict(status)
        time.sleep(0.05)


def db_count(data_dir: Path) -> int:
    conn = db.connect(db.db_path(data_dir), readonly=True)
    try:
        return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])
    finally:
        conn.close()


# openai_fake, anthropic_fake: tests/server/conftest.py


def serve(kind: str, fake: Any, data_dir: Path) -> tuple[ServerThread, str]:
    if kind == "openai":
        backend: Any = OpenAICompatBackend("openai", fake.base_url, default_model="fake-model", first_byte_timeout=30)
        model = "fake-model"
    else:
        backend = AnthropicBackend("anthropic", fake.url, first_byte_timeout=30)
        model = "claude-test"
    settings = make_settings(backend=kind, trace=False, max_concurrent=256, data_dir=str(data_dir))
    return ServerThread(settings, {kind: backend}), model


# ----------------------------------------------------------------------------- every request recorded


@pytest.mark.parametrize("kind,n", [("openai", 2000), ("anthropic", 600)])
def test_every_request_under_load_is_recorded_and_shown(kind: str, n: int, openai_fake: FakeOpenAIUpstream,
                                                        anthropic_fake: FakeAnthropicUpstream, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    srv, model = serve(kind, openai_fake if kind == "openai" else anthropic_fake, data_dir)
    with srv as server:
        t0 = time.monotonic()
        statuses = asyncio.run(blast(server.url, model, n, concurrency=32, time_limit=90))
        sent = sum(statuses.values())
        assert statuses == {"200": sent}, statuses
        assert sent >= n // 2, f"only {sent} of {n} requests in {time.monotonic() - t0:.0f} s"  # a very slow machine
        status = wait_written(server, sent)
        assert status["dropped"] == 0 and status["failures"] == 0, status
        assert status["written"] == sent, status
        assert db_count(data_dir) == sent
        health = httpx.get(server.url + "/health").json()["recording"]
        assert health["enabled"] is True and health["dropped"] == 0 and health["written"] == sent
        overview = httpx.get(server.url + "/console/api/overview").json()
        assert overview["all_time"]["requests"] == sent and overview["recording"]["dropped"] == 0
        listed = httpx.get(server.url + "/console/api/requests?limit=1000").json()["requests"]
        assert len(listed) == min(1000, sent)
        assert {r["dialect"] for r in listed} == {"openai_chat", "openai_responses", "anthropic_messages"}
        streamed = [r for r in listed if r["stream"]]
        assert streamed and all(r["ttfb_ms"] is not None for r in streamed)
        # the command line reads the same file while the server runs
        isolate(tmp_path, monkeypatch, ("LINGMA_PROXY_",))
        runner = CliRunner()
        out = runner.invoke(cli, ["stats", "--data-dir", str(data_dir)], catch_exceptions=False).output
        assert f"{sent} requests recorded" in out
        out = runner.invoke(cli, ["requests", "--json", "-n", "1000", "--data-dir", str(data_dir)],
                            catch_exceptions=False).output
        assert len(out.splitlines()) == min(1000, sent)


# ----------------------------------------------------------------------------- time to first byte


def _one(server: ServerThread, api: str, model: str, stream: bool) -> dict[str, Any]:
    before = server.app.state.obs.status()["written"]
    r = httpx.post(server.url + PATHS[api], content=body(api, model, stream, 1), headers=HEADERS, timeout=20)
    assert r.status_code == 200, r.text
    wait_written(server, before + 1, timeout=10)
    row = httpx.get(server.url + "/console/api/requests?limit=1").json()["requests"][0]
    assert row["dialect"].endswith(api) or (api == "chat" and row["dialect"] == "openai_chat")
    return dict(row)


@pytest.fixture(scope="module")
def scripted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, ScriptedBackend]]:
    backend = ScriptedBackend()
    with ServerThread(make_settings(data_dir=str(tmp_path_factory.mktemp("ttfb"))), {"scripted": backend}) as s:
        yield s, backend


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("words", [1, 5, 40])
def test_ttfb_is_recorded_for_streams_that_arrive_in_one_write(api: str, words: int,
                                                               scripted_server: tuple[ServerThread, ScriptedBackend]
                                                               ) -> None:
    # The scripted backend yields its whole answer at once: the relay renders it in one write,
    # which used to leave ttfb_ms empty.
    server, backend = scripted_server
    backend.push(*text_script(" ".join(["word"] * words)))
    row = _one(server, api, "gpt-5.5", True)
    assert row["stream"] and row["status"] == 200
    assert row["ttfb_ms"] is not None and 0 < row["ttfb_ms"] <= row["latency_ms"] + 0.01, row


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_ttfb_is_recorded_on_both_http_backends(api: str, kind: str, openai_fake: FakeOpenAIUpstream,
                                                anthropic_fake: FakeAnthropicUpstream, tmp_path: Path) -> None:
    srv, model = serve(kind, openai_fake if kind == "openai" else anthropic_fake, tmp_path)
    with srv as server:
        for stream in (True, False):
            row = _one(server, api, model, stream)
            if stream:
                assert row["ttfb_ms"] is not None and 0 < row["ttfb_ms"] <= row["latency_ms"] + 0.01, row


# ----------------------------------------------------------------------------- overflow is visible


@pytest.mark.parametrize("capacity", [1, 3])
def test_overflow_of_a_tiny_queue_shows_on_health_and_in_the_console(capacity: int, tmp_path: Path) -> None:
    backend = ScriptedBackend()
    with ServerThread(make_settings(data_dir=str(tmp_path)), {"scripted": backend}) as server:
        assert httpx.get(server.url + "/health").json()["recording"]["dropped"] == 0
        rec = server.app.state.obs.recorder
        writer = StalledWriter()
        rec.write, rec.capacity = writer, capacity
        n = 12
        for i in range(n):
            backend.push(*text_script(f"answer {i}"))
            r = httpx.post(server.url + PATHS["chat"], content=body("chat", "gpt-5.5", i % 2 == 0, i),
                           headers=HEADERS, timeout=20)
            assert r.status_code == 200  # a stalled recorder costs requests nothing
            if i == 0:
                assert writer.entered.wait(5)  # the writer holds the first record and hangs
        # the access log keeps its own copy; only the recorder lost some
        health = httpx.get(server.url + "/health").json()
        assert health["recording"]["dropped"] == n - 1 - capacity, health
        assert health["recording"]["capacity"] == capacity and "path" not in health["recording"]
        overview = httpx.get(server.url + "/console/api/overview").json()
        assert overview["recording"]["dropped"] == n - 1 - capacity
        writer.release.set()
        status = wait_written(server, 1 + capacity, timeout=10)
        assert status["written"] == 1 + capacity


def test_the_dashboard_warns_when_records_were_dropped() -> None:
    # The warning is rendered by dashboard.js from the overview's "recording" object.
    js = (Path(__file__).resolve().parents[2] / "src/lingma_proxy/console/static/dashboard.js").read_text()
    assert "recordingWarning(o.recording)" in js and 'role: "alert"' in js and "rec.dropped" in js
