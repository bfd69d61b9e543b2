"""The IPC backend against the emulator: transports, lifecycle, sessions, concurrency, faults."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.lingma_ipc import LingmaIPCEmulator, Turn
from lingma_proxy import errors, ir
from lingma_proxy.backends.lingma.ipc import IPCBackend, Options
from lingma_proxy.backends.lingma.ipc.backend import NO_REPLY
from lingma_proxy.backends.lingma.ipc.discovery import Discovery

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def req(text: str = "Hi there", *, model: str = "Kimi-K2.6", reasoning: bool = False, **kw: Any) -> ir.Request:
    parts: tuple[ir.Part, ...] = (ir.TextPart(text), *kw.pop("parts", ()))
    return ir.Request(model, (ir.Message("user", parts),), reasoning=ir.Reasoning() if reasoning else None, **kw)


async def run(backend: IPCBackend, request: ir.Request) -> ir.Response:
    acc = ir.Accumulator()
    async for ev in backend.stream(request):
        acc.feed(ev)
    return acc.response()


async def settle(emu: LingmaIPCEmulator) -> None:
    for _ in range(50):  # background session deletes
        if not emu.live_sessions():
            return
        await asyncio.sleep(0.01)


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[LingmaIPCEmulator]:
    e = await LingmaIPCEmulator().start(socket_path=str(tmp_path / "qodercn.sock"))
    yield e
    await e.stop()


@pytest.fixture
async def backend(emu: LingmaIPCEmulator) -> AsyncIterator[IPCBackend]:
    b = IPCBackend(options=Options(ws_url=emu.url), cwd="/w", timeout=5)
    yield b
    await b.aclose()


# ------------------------------------------------------------------------- transports


@pytest.mark.parametrize("chunking", ["frame", "split", "pack"])
@pytest.mark.parametrize("transport", ["websocket", "unix"])
async def test_a_turn_over_each_transport_and_chunking(emu: LingmaIPCEmulator, transport: str, chunking: str) -> None:
    emu.faults.chunking = chunking
    opts = Options(ws_url=emu.url) if transport == "websocket" else Options(pipe=emu.socket_path)
    b = IPCBackend(options=opts, cwd="/w")
    try:
        r = await run(b, req("Hi", reasoning=True))
        assert r.text() == "Hello from fake IPC." and [type(p).__name__ for p in r.content] == ["ThinkingPart", "TextPart"]
        assert r.usage.input_tokens == 321 and b.endpoint is not None
        assert b.endpoint.transport == transport and (b.endpoint.kind == "qodercn") == (transport == "unix")
    finally:
        await b.aclose()
    await settle(emu)
    assert emu.methods() == ["initialize", "config/queryModels", "session/new", "session/set_model",
                             "session/prompt", "chat/deleteSessionById"]
    assert emu.live_sessions() == []


async def test_model_map_is_loaded_before_the_first_chat_and_thoughts_never_leak(
        emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    r = await run(backend, req())
    assert r.text() == "Hello from fake IPC." and len(r.content) == 1  # no thinking asked: none shown
    sm = next(m for _, m in emu.received if m.get("method") == "session/set_model")
    prompt = next(m for _, m in emu.received if m.get("method") == "session/prompt")
    assert sm["params"]["modelId"] == "kmodel" and prompt["params"]["_meta"]["ai-coding/model"] == "kmodel"
    assert prompt["params"]["_meta"]["ai-coding/mode"] == "agent" and "contextParams" not in prompt["params"]
    assert [m.id for m in await backend.list_models()] == ["Kimi-K2.6", "Auto", "Qwen3-Coder"]
    assert (await backend.list_models())[0].context_window == 128000  # learned from context_usage


async def test_odd_runtime_messages_and_string_ids_are_tolerated(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    emu.faults.odd_messages = True
    emu.faults.string_ids = True
    assert (await run(backend, req())).text() == "Hello from fake IPC."
    answered = [m["id"] for _, m in emu.received if "method" not in m and "id" in m]
    assert "perm-9001" in answered and "str-id" in answered


async def test_images_go_as_temp_files_removed_after_the_turn(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    img = ir.ImagePart("image/png", data=PNG)
    url = ir.ImagePart("image/jpeg", url="https://example.com/a.jpg")
    await run(backend, req("What is this?", parts=(img, url)))
    first, second = emu.images
    assert first["existed"] and first["uri"].startswith("lingma:///agent/file?path=%2F") and first["data"] == PNG
    assert first["path"].endswith(".png") and not os.path.exists(first["path"])
    assert second == {"type": "image", "mimeType": "image/jpeg", "data": "", "uri": "https://example.com/a.jpg",
                      "path": "", "existed": False}
    prompt = next(m for _, m in emu.received if m.get("method") == "session/prompt")
    assert prompt["params"]["extra"] == {"imageUrl": "https://example.com/a.jpg"}


# ------------------------------------------------------------------------- sessions and concurrency


async def test_reuse_mode_keeps_one_session_and_sends_only_the_last_user_text(emu: LingmaIPCEmulator) -> None:
    b = IPCBackend(options=Options(ws_url=emu.url), session_mode="reuse", cwd="/w")
    try:
        await run(b, req("one"))
        long = ir.Request("Kimi-K2.6", (ir.Message("user", (ir.TextPart("one"),)),
                                        ir.Message("assistant", (ir.TextPart("Hello"),)),
                                        ir.Message("user", (ir.TextPart("two"),))), system=(ir.TextPart("sys"),))
        await run(b, long)
        await run(b, req("three", model="Qwen3-Coder"))
        emu.queue(Turn(text=()))
        with pytest.raises(errors.UpstreamError):
            await run(b, req("four"))
        await run(b, req("five"))
    finally:
        await b.aclose()
    ms = emu.methods()
    assert ms.count("session/new") == 2 and ms.count("session/set_model") == 4  # new, Qwen3-Coder, back to Kimi, new
    assert [p for s in emu.sessions.values() for p in s["prompts"]] == ["one", "two", "three", "four", "five"]
    assert emu.sessions["sess-1"]["deleted"]  # dropped after the empty reply, and deleted


async def test_concurrent_turns_share_one_connection_within_the_pool(emu: LingmaIPCEmulator) -> None:
    b = IPCBackend(options=Options(ws_url=emu.url), cwd="/w", max_concurrent=2)
    emu.queue(*[Turn(text=(f"answer {i}", " done"), delay=0.02) for i in range(5)])
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len([s for s in emu.sessions.values() if s["prompts"] and not s["deleted"]]))
            await asyncio.sleep(0.005)

    w = asyncio.ensure_future(watch())
    try:
        results = await asyncio.gather(*[run(b, req(f"q{i}")) for i in range(5)])
    finally:
        w.cancel()
        await b.aclose()
    assert sorted(r.text() for r in results) == [f"answer {i} done" for i in range(5)]
    assert emu.connections == 1 and emu.methods().count("initialize") == 1 and 1 <= peak <= 2


async def test_a_slow_consumer_does_not_hold_up_other_turns(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    emu.queue(Turn(text=tuple("abcdefgh")), Turn(text=("fast",)))
    slow = backend.stream(req("slow"))
    first = await slow.__anext__()  # the slow client reads one event, then stops reading
    assert isinstance(first, ir.MessageStart)
    assert (await asyncio.wait_for(run(backend, req("other")), 5)).text() == "fast"
    rest = [ev async for ev in slow]
    assert ir.accumulate([first, *rest]).text() == "abcdefgh"


# ------------------------------------------------------------------------- faults


async def test_runtime_not_running_says_what_to_do(tmp_path: Path) -> None:
    b = IPCBackend(discover_fn=lambda o: Discovery(problem="no running Lingma / QoderCN runtime found: start QoderCN"))
    with pytest.raises(errors.UpstreamUnavailable, match="start QoderCN"):
        await run(b, req())
    closed = IPCBackend(options=Options(ws_url="ws://127.0.0.1:9/"))
    with pytest.raises(errors.UpstreamUnavailable, match=r"cannot connect .* ws://127.0.0.1:9/.*--ws-url"):
        await closed.list_models()
    state = await closed.state()
    assert not state.ok and "cannot connect" in state.detail


async def test_a_drop_between_turns_reconnects_and_reinitializes(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    await run(backend, req())
    await emu.drop_connections()
    await asyncio.sleep(0.05)
    assert (await run(backend, req())).text() == "Hello from fake IPC."
    assert emu.connections == 2 and emu.methods().count("initialize") == 2


async def test_a_drop_before_any_output_is_retried_once(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    emu.queue(Turn(close_after=0), Turn(text=("second try",)))
    assert (await run(backend, req())).text() == "second try"
    assert emu.connections == 2
    emu.queue(Turn(close_after=0), Turn(close_after=0))
    with pytest.raises(errors.UpstreamError, match="notification stream closed"):
        await run(backend, req())


async def test_a_drop_mid_answer_is_an_error_not_a_truncated_success(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    events = []
    with pytest.raises(errors.UpstreamError, match=r"mid-answer.*partial-before-close"):
        async for ev in backend.stream(req("SCENARIO:close")):
            events.append(ev)
    assert ir.accumulate(events).text() == "partial-before-close " and not any(
        isinstance(e, ir.MessageStop) for e in events)


async def test_chat_finish_without_text_is_an_error(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    with pytest.raises(errors.UpstreamError, match=NO_REPLY):
        await run(backend, req("SCENARIO:noreply"))
    await settle(emu)
    assert emu.live_sessions() == []


async def test_a_stall_past_the_timeout_is_an_error_and_the_session_is_deleted(emu: LingmaIPCEmulator) -> None:
    b = IPCBackend(options=Options(ws_url=emu.url), timeout=0.3)
    emu.queue(Turn(text=("partial",), finish=None), Turn(text=(), thinking=(), finish=None))
    try:
        with pytest.raises(errors.UpstreamTimeout, match=r"incomplete before the 0\.3 s timeout\. Partial reply: partial"):
            await run(b, req())
        with pytest.raises(errors.UpstreamTimeout, match="waiting for Lingma IPC to finish"):
            await run(b, req())
        await settle(emu)
        assert emu.live_sessions() == []
    finally:
        await b.aclose()


async def test_session_new_refused_names_the_vscode_only_runtime(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    emu.faults.session_new_error = {"code": -32601, "message": "Method not found"}
    with pytest.raises(errors.UpstreamUnavailable, match=r"VS Code.*Method not found|Method not found.*VS Code"):
        await run(backend, req())
    assert (await backend.list_models())[0].id == "Kimi-K2.6"  # models still work there


async def test_a_prompt_error_fails_the_turn(emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    emu.queue(Turn(prompt_error={"code": 500, "message": "model unavailable"}))
    with pytest.raises(errors.UpstreamError, match="session/prompt failed: model unavailable"):
        await run(backend, req())


async def test_a_client_leaving_mid_turn_deletes_the_session_and_its_images(
        emu: LingmaIPCEmulator, backend: IPCBackend) -> None:
    emu.queue(Turn(text=("a", "b", "c"), delay=0.05, finish=None))
    gen = backend.stream(req(parts=(ir.ImagePart("image/png", data=PNG),)))
    async for ev in gen:
        if isinstance(ev, ir.TextDelta):
            break
    await gen.aclose()  # type: ignore[attr-defined]
    await settle(emu)
    assert emu.live_sessions() == [] and not os.path.exists(emu.images[0]["path"])
    assert backend._conn is not None and backend._conn.active_turns == 0


async def test_a_client_leaving_while_queued_costs_nothing(emu: LingmaIPCEmulator) -> None:
    b = IPCBackend(options=Options(ws_url=emu.url), max_concurrent=1)
    emu.queue(Turn(text=("slow",), delay=0.1))
    try:
        busy = asyncio.ensure_future(run(b, req("first")))
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(run(b, req("second")))
        await asyncio.sleep(0.05)
        queued.cancel()
        assert (await busy).text() == "slow"
    finally:
        await b.aclose()
    assert [p for s in emu.sessions.values() for p in s["prompts"]] == ["first"]


# ------------------------------------------------------------------------- settings


@pytest.mark.parametrize(("flags", "env", "pool"), [
    ({}, {}, 4),
    ({}, {"LINGMA_PROXY_MAX_CONCURRENT": "2"}, 2),  # the reference's knob
    ({}, {"LINGMA_PROXY_MAX_CONCURRENT": "64"}, 16),
    ({"ipc_max_concurrent": "8"}, {"LINGMA_PROXY_MAX_CONCURRENT": "2"}, 8),
])
def test_settings_build_the_backend(tmp_path: Path, flags: dict, env: dict, pool: int) -> None:
    from lingma_proxy.backends import registry
    from lingma_proxy.config import load_settings

    s = load_settings({"backend": "ipc", "ws_url": "ws://127.0.0.1:36510", "session_mode": "reuse",
                       "shell_type": "bash", "current_file_path": "/w/x.py", "timeout": "30", **flags},
                      env, tmp_path, tmp_path)
    built = registry.build(s)
    b = built.backends["ipc"]
    assert isinstance(b, IPCBackend) and built.default == "ipc" and b.max_concurrent == pool
    assert (b.options.ws_url, b.session_mode, b.shell_type, b.current_file_path, b.timeout, b.cwd) == (
        "ws://127.0.0.1:36510/", "reuse", "bash", "/w/x.py", 30.0, str(tmp_path))
    assert b.capabilities.native_tools is False and b.kind == "ipc"
