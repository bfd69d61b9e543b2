"""The remote backend against the emulator: streaming, tools, fallback and every fault."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.lingma_remote import Account, Fault, LingmaRemoteEmulator, Reply
from lingma_proxy import errors, ir
from lingma_proxy.backends.lingma import remote_hosts
from lingma_proxy.backends.lingma.remote import RemoteBackend

from .remote_fixtures import write_credentials

ACCOUNT = Account()
USAGE = {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}


@pytest.fixture
async def emu() -> AsyncIterator[LingmaRemoteEmulator]:
    async with LingmaRemoteEmulator() as e:
        yield e


@pytest.fixture
def creds(tmp_path: Path) -> Path:
    return write_credentials(tmp_path / "creds.json", ACCOUNT)


@pytest.fixture
async def backend(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> AsyncIterator[RemoteBackend]:
    b = make(emu.url, creds, tmp_path)
    yield b
    await b.aclose()


def make(url: str, creds: Path, home: Path, **kw: Any) -> RemoteBackend:
    kw.setdefault("first_byte_timeout", 5)
    kw.setdefault("connect_timeout", 2)
    return RemoteBackend(base_url=url, auth_file=str(creds), env={}, home=home, **kw)


def req(text: str = "hello", model: str = "kmodel", **kw: Any) -> ir.Request:
    return ir.Request(model=model, messages=(ir.Message("user", (ir.TextPart(text),)),), **kw)


async def run(b: RemoteBackend, r: ir.Request | None = None) -> list[ir.Event]:
    return [ev async for ev in b.stream(r or req())]


async def run_until_error(b: RemoteBackend, r: ir.Request | None = None) -> tuple[list[ir.Event], errors.ProxyError]:
    got: list[ir.Event] = []
    with pytest.raises(errors.ProxyError) as ei:
        async for ev in b.stream(r or req()):
            got.append(ev)
    return got, ei.value


def text_of(events: list[ir.Event]) -> str:
    return ir.accumulate(events).text()


# ------------------------------------------------------------------ happy paths

async def test_text_reasoning_and_upstream_usage(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("Hel", "lo", reasoning=("let me think",), usage=USAGE))
    events = await run(backend)
    resp = ir.accumulate(events)
    assert isinstance(events[0], ir.MessageStart)
    assert [type(p).__name__ for p in resp.content] == ["ThinkingPart", "TextPart"]
    assert resp.text() == "Hello" and resp.content[0].text == "let me think"  # type: ignore[union-attr]
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (12, 2)
    assert resp.stop_reason == "end_turn"


async def test_reference_fake_default_answer(backend: RemoteBackend) -> None:
    assert text_of(await run(backend)) == "Hello from fake upstream."


@pytest.mark.parametrize("done", ["envelope", "raw"])
async def test_both_done_forms_and_keepalives(backend: RemoteBackend, emu: LingmaRemoteEmulator, done: str) -> None:
    emu.queue(Reply.of_text("a", "b", done=done, keepalive=True, minimal=True, finish=None))
    assert text_of(await run(backend)) == "ab"


async def test_tool_calls_assembled_by_index(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.tools(("call_1", "read_file", ('{"file_path":"/var/tmp', "/lingma-native", '-tool-test.txt"}')),
                          ("call_2", "Bash", ('{"command":', '"ls"}')), text=("Reading.",)))
    r = req(tools=(ir.Tool("read_file"), ir.Tool("Bash")))
    resp = ir.accumulate(await run(backend, r))
    assert resp.text() == "Reading." and resp.stop_reason == "tool_use"
    assert [(c.id, c.name, c.parsed_arguments()) for c in resp.tool_calls()] == [
        ("call_1", "read_file", {"file_path": "/var/tmp/lingma-native-tool-test.txt"}),
        ("call_2", "Bash", {"command": "ls"})]
    assert emu.chats()[-1].body["tools"][0]["function"]["name"] == "read_file"


async def test_captured_tool_scenario(backend: RemoteBackend) -> None:
    resp = ir.accumulate(await run(backend, req("Weather in Paris? SCENARIO:tool")))
    assert [(c.id, c.name, c.arguments) for c in resp.tool_calls()] == [
        ("call_fake_1", "get_weather", '{"city":"Paris"}')]


async def test_model_list_is_cached(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    for _ in range(3):
        assert [m.id for m in await backend.list_models()][:2] == ["kmodel", "mmodel"]
        await run(backend)
    assert len(emu.model_lists()) == 1 and len(emu.chats()) == 3


async def test_connections_are_reused(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    for _ in range(3):
        await run(backend)
    assert len({r.extra["peer"] for r in emu.requests}) == 1


async def test_display_names_reach_upstream_as_keys(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    await backend.list_models()
    for name, key in (("Qwen3-Coder", "dashscope_qwen3_coder"), ("auto", "org_auto"), ("Kimi-K2.6", "kmodel"),
                      ("", "kmodel")):
        await run(backend, req(model=name))
        assert emu.chats()[-1].model == key


async def test_images_go_inline(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    r = ir.Request(model="kmodel", messages=(ir.Message("user", (
        ir.TextPart("what is this?"), ir.ImagePart("image/png", "iVBORw0KGgo="))),))
    await run(backend, r)
    body = emu.chats()[-1].body
    assert body["model_config"]["is_vl"] is True
    assert body["messages"][0]["content"][1] == {"type": "image_url",
                                                 "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


async def test_oversized_images_are_refused_locally(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    big = "A" * (16 * 1024 * 1024)
    r = ir.Request(model="kmodel", messages=(ir.Message("user", (ir.ImagePart("image/png", big),)),))
    _, err = await run_until_error(backend, r)
    assert isinstance(err, errors.RequestTooLarge) and "14 MB" in err.message
    assert not emu.chats()


async def test_cli_identity(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    b = make(emu.url, creds, tmp_path, identity="cli", version="0.2.4")
    try:
        assert text_of(await run(b, req(reasoning=ir.Reasoning(effort="high")))) == "Hello from fake upstream."
    finally:
        await b.aclose()
    rec = emu.chats()[-1]
    assert rec.verified == (True, "")
    assert (rec.headers["Cosy-Clienttype"], rec.headers["X-Model-Key"], rec.headers["Cosy-Version"]) == (
        "5", "kmodel", "0.2.4")
    assert rec.body["parameters"] == {"temperature": 0.1, "enable_thinking": True, "reasoning_effort": "high"}


# ------------------------------------------------------------------ fallback

async def test_429_falls_back_to_the_next_listed_model(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.per_model["kmodel"] = Reply.http(429)
    emu.per_model["mmodel"] = Reply.of_text("from mmodel")
    assert text_of(await run(backend)) == "from mmodel"
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel"]


async def test_5xx_everywhere_tries_the_reference_order_then_fails_clearly(
        backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    for key in ("kmodel", "mmodel", "dashscope_qwen3_coder", "dashscope_qwen_plus_20250428_thinking"):
        emu.per_model[key] = Reply.http(500, "upstream boom", "text/plain")
    _, err = await run_until_error(backend)
    # qmodel and qwen_max are not in this account's list, so they are skipped
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel", "dashscope_qwen3_coder",
                                              "dashscope_qwen_plus_20250428_thinking"]
    assert err.status == 502 and "HTTP 500" in err.message and "upstream boom" in err.message
    assert "after falling back from kmodel, mmodel, dashscope_qwen3_coder" in err.message


async def test_fallback_disabled(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    b = make(emu.url, creds, tmp_path, fallback=False)
    emu.per_model["kmodel"] = Reply.http(503)
    try:
        _, err = await run_until_error(b)
    finally:
        await b.aclose()
    assert [r.model for r in emu.chats()] == ["kmodel"] and not emu.model_lists()
    assert err.retryable


async def test_custom_fallback_order(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    b = make(emu.url, creds, tmp_path, fallback_models=("Qwen3-Coder", "kmodel", "mmodel"))
    emu.per_model["dashscope_qwen3_coder"] = Reply.http(502)
    try:
        assert text_of(await run(b, req(model="Qwen3-Coder"))) == "Hello from fake upstream."
    finally:
        await b.aclose()
    assert [r.model for r in emu.chats()] == ["dashscope_qwen3_coder", "kmodel"]


# ------------------------------------------------------------------ faults

@pytest.mark.parametrize("status,cls,words", [
    (401, errors.AuthenticationFailed, "were rejected"),
    (403, errors.PermissionDenied, "were refused"),
])
async def test_bad_credentials_say_so(backend: RemoteBackend, emu: LingmaRemoteEmulator, status: int,
                                      cls: type, words: str) -> None:
    emu.per_model["kmodel"] = Reply.http(status)
    _, err = await run_until_error(backend)
    assert type(err) is cls and words in err.message and "log in to Lingma/QoderCN again" in err.message
    assert len(emu.chats()) == 1  # no fallback: every model would refuse the same login


async def test_a_wrong_signature_is_refused_by_the_emulator(emu: LingmaRemoteEmulator, tmp_path: Path) -> None:
    creds = write_credentials(tmp_path / "c.json", Account(cosy_key="NOT_THE_KEY"))
    b = make(emu.url, creds, tmp_path)
    try:
        _, err = await run_until_error(b)
        with pytest.raises(errors.PermissionDenied, match="User invalid"):
            await b.list_models()
    finally:
        await b.aclose()
    assert isinstance(err, errors.PermissionDenied)


async def test_error_inside_the_stream(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("partial ", "more", fault=Fault.sse_status(500, after=1)))
    got, err = await run_until_error(backend)
    assert text_of(got + [ir.MessageStop()]) == "partial "
    assert "error inside the stream: status 500" in err.message
    assert len(emu.chats()) == 1  # output was already produced: no fallback


async def test_error_inside_the_stream_before_output_falls_back(
        backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.per_model["kmodel"] = Reply.of_text("x", fault=Fault.sse_status(503, after=0))
    assert text_of(await run(backend)) == "Hello from fake upstream."
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel"]


async def test_connection_dropped_mid_stream(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("Hel", "lo", "more", fault=Fault.drop(after=2)))
    got, err = await run_until_error(backend)
    assert "".join(e.text for e in got if isinstance(e, ir.TextDelta)) == "Hello"
    assert "closed the stream for kmodel before it finished" in err.message and err.retryable


async def test_connection_dropped_before_output_falls_back(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.per_model["kmodel"] = Reply.of_text("a", "b", fault=Fault.drop(after=0))
    assert text_of(await run(backend)) == "Hello from fake upstream."
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel"]


async def test_stall_before_the_first_byte_falls_back(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    b = make(emu.url, creds, tmp_path, first_byte_timeout=0.3)
    emu.per_model["kmodel"] = Reply.of_text("late", fault=Fault.stall(after=0, seconds=5))
    try:
        assert text_of(await run(b)) == "Hello from fake upstream."
    finally:
        await b.aclose()
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel"]


async def test_stall_mid_stream_is_a_timeout(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    b = make(emu.url, creds, tmp_path, first_byte_timeout=0.3)
    emu.queue(Reply.of_text("a", "b", fault=Fault.stall(after=1, seconds=5)))
    try:
        got, err = await run_until_error(b)
    finally:
        await b.aclose()
    assert isinstance(err, errors.UpstreamTimeout) and "sent nothing more for 0.3 s" in err.message
    assert any(isinstance(e, ir.TextDelta) and e.text == "a" for e in got)


async def test_total_timeout(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    b = make(emu.url, creds, tmp_path, total_timeout=0.5, fallback=False)
    emu.queue(Reply.of_text("a", "b", fault=Fault.stall(after=1, seconds=5)))
    try:
        _, err = await run_until_error(b)
    finally:
        await b.aclose()
    assert isinstance(err, errors.UpstreamTimeout) and "total timeout" in err.message


async def test_redirect_to_a_login_page_is_an_expired_session(
        backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.redirect())
    _, err = await run_until_error(backend)
    assert isinstance(err, errors.AuthenticationFailed) and "login session has expired" in err.message
    assert "SECRET" not in err.message and "/lingma/login" in err.message


async def test_html_login_page_is_not_an_empty_success(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.html())
    _, err = await run_until_error(backend)
    assert isinstance(err, errors.AuthenticationFailed) and "HTML page" in err.message


async def test_404_nosuchkey_from_a_wrong_host(creds: Path, tmp_path: Path) -> None:
    async with LingmaRemoteEmulator(oss=True) as oss:
        b = make(oss.url, creds, tmp_path)
        try:
            _, err = await run_until_error(b)
            with pytest.raises(errors.NotFound) as ei:
                await b.list_models()
        finally:
            await b.aclose()
    for e in (err, ei.value):
        assert isinstance(e, errors.NotFound)
        assert "(a file host, not the API) looks like the wrong host" in e.message
        assert "--remote-base-url" in e.message and "https://lingma.alibabacloud.com" in e.message


@pytest.mark.parametrize("line", ["this is not json", "[1, 2]", '{"body": 7, "statusCodeValue": 200}'])
async def test_malformed_envelope_lines(backend: RemoteBackend, emu: LingmaRemoteEmulator, line: str) -> None:
    emu.queue(Reply.of_text("ok", "more", fault=Fault.malformed(line, after=1)))
    _, err = await run_until_error(backend)
    assert isinstance(err, errors.UpstreamError) and "Lingma remote API sent" in err.message


async def test_malformed_inner_chunk(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.raw('data:{"body":"{not json","statusCodeValue":200}\n\n', "data:[DONE]\n\n"))
    _, err = await run_until_error(backend)
    assert "Lingma remote API at" in err.message and "not JSON" in err.message


async def test_eof_without_done_after_a_finish_reason_is_fine(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("done", done="none"))
    assert text_of(await run(backend)) == "done"


async def test_eof_without_done_or_finish_is_an_error(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("cut", done="none", finish=None), Reply.of_text("cut", done="none", finish=None))
    _, err = await run_until_error(backend, req(model="dashscope_qwen_plus_20250428_thinking"))
    assert "before it finished (no [DONE] and no finish_reason)" in err.message


async def test_an_empty_answer_is_not_a_success(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.per_model["kmodel"] = Reply.raw('data:{"body":"[DONE]","statusCodeValue":200}\n\n')
    emu.per_model["mmodel"] = Reply.raw('data:{"body":"{\\"choices\\":[{\\"delta\\":{\\"content\\":\\"\\"}}]}",'
                                        '"statusCodeValue":200}\n\ndata:[DONE]\n\n')
    emu.per_model["dashscope_qwen3_coder"] = Reply.of_text("finally")
    assert text_of(await run(backend)) == "finally"
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel", "dashscope_qwen3_coder"]


async def test_json_error_in_a_200_answer(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.http(200, orjson.dumps({"success": False, "errorCode": "401", "errorMessage": "User invalid"})))
    _, err = await run_until_error(backend)
    assert isinstance(err, errors.AuthenticationFailed) and "User invalid" in err.message


async def test_unreachable_host(creds: Path, tmp_path: Path) -> None:
    from server_harness import free_port

    b = make(f"http://127.0.0.1:{free_port()}", creds, tmp_path)
    try:
        _, err = await run_until_error(b)
    finally:
        await b.aclose()
    assert isinstance(err, errors.UpstreamUnavailable) and "cannot reach the Lingma remote API" in err.message


async def test_missing_credentials(emu: LingmaRemoteEmulator, tmp_path: Path) -> None:
    b = make(emu.url, tmp_path / "nope.json", tmp_path)
    try:
        _, err = await run_until_error(b)
        state = await b.state()
    finally:
        await b.aclose()
    assert "does not exist" in err.message and "export-auth" in err.message
    assert not state.ok and "does not exist" in state.detail
    assert not emu.requests


async def test_new_credentials_are_used_without_restart(emu: LingmaRemoteEmulator, tmp_path: Path) -> None:
    other = Account(cosy_key="OTHER_KEY", encrypt_user_info="OTHER_INFO", user_id="7", machine_id="m" * 16)
    emu.accounts[other.user_id] = other
    creds = write_credentials(tmp_path / "c.json", ACCOUNT)
    b = make(emu.url, creds, tmp_path)
    try:
        await run(b)
        write_credentials(creds, other)
        import os
        st = creds.stat()
        os.utime(creds, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
        await run(b)
    finally:
        await b.aclose()
    assert [r.headers["Cosy-User"] for r in emu.chats()] == [ACCOUNT.user_id, "7"]
    assert all(r.verified[0] for r in emu.requests)


async def test_no_secret_in_an_in_stream_error(backend: RemoteBackend, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("x", fault=Fault.sse_status(500, after=0, text=f"bad key {ACCOUNT.cosy_key}")),
              Reply.of_text("x", fault=Fault.sse_status(400, after=0, text=f"bad key {ACCOUNT.cosy_key}")))
    _, err = await run_until_error(backend)
    assert "bad key ***" in err.message and ACCOUNT.cosy_key not in err.message


async def test_no_secret_in_logs_or_errors(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    b = make(emu.url, creds, tmp_path)
    for key in ("kmodel", "mmodel", "dashscope_qwen3_coder", "dashscope_qwen_plus_20250428_thinking"):
        emu.per_model[key] = Reply.http(500, f"echo {ACCOUNT.cosy_key} {ACCOUNT.encrypt_user_info}", "text/plain")
    try:
        _, err = await run_until_error(b)
        state = await b.state()
    finally:
        await b.aclose()
    blob = err.message + caplog.text + repr(state) + repr(b)
    for secret in (ACCOUNT.cosy_key, ACCOUNT.encrypt_user_info, ACCOUNT.machine_id, ACCOUNT.user_id):
        assert secret not in blob


# ------------------------------------------------------------------ hosts and proxies

async def test_detected_hosts_are_probed_and_the_working_one_remembered(creds: Path, tmp_path: Path) -> None:
    async with LingmaRemoteEmulator(oss=True) as oss, LingmaRemoteEmulator() as good:
        env: dict[str, str] = {}
        ours, _ = remote_hosts.state_files(env, tmp_path)
        ours.parent.mkdir(parents=True)
        ours.write_bytes(orjson.dumps({"url": oss.url}))  # a stale "last good" host comes first
        logs = tmp_path / ".lingma" / "logs"
        logs.mkdir(parents=True)
        (logs / "lingma.log").write_text(f"INFO endpoint config: {good.url}\n")
        b = RemoteBackend(auth_file=str(creds), env=env, home=tmp_path, first_byte_timeout=5)
        try:
            assert next(m.id for m in await b.list_models()) == "kmodel"
            assert text_of(await run(b)) == "Hello from fake upstream."
            state = await b.state()
        finally:
            await b.aclose()
        assert len(oss.requests) == 1 and len(good.chats()) == 1
        assert orjson.loads(ours.read_bytes())["url"] == good.url
        assert state.endpoint == good.url and state.ok


async def test_http_proxy_flag(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    # the emulator doubles as the proxy: the request reaches it for a host that does not resolve
    b = make("http://lingma.invalid", creds, tmp_path, proxy_url=emu.url)
    try:
        assert text_of(await run(b)) == "Hello from fake upstream."
    finally:
        await b.aclose()
    assert emu.chats()[-1].headers["Host"] == "lingma.invalid"


async def test_proxy_from_the_environment(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", emu.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    b = make("http://lingma.invalid", creds, tmp_path)
    try:
        assert text_of(await run(b)) == "Hello from fake upstream."
    finally:
        await b.aclose()


async def _socks5_server(seen: list[tuple[str, int]]) -> asyncio.AbstractServer:
    """A minimal SOCKS5 (no auth, CONNECT) server on loopback that relays to the target."""

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        _ver, n = await r.readexactly(2)
        await r.readexactly(n)
        w.write(b"\x05\x00")
        _, _cmd, _, atyp = await r.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await r.readexactly(4))
        else:
            host = (await r.readexactly((await r.readexactly(1))[0])).decode()
        port = int.from_bytes(await r.readexactly(2), "big")
        seen.append((host, port))
        ur, uw = await asyncio.open_connection(host, port)
        w.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        await w.drain()
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_socks5_proxy_carries_the_requests(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    server = await _socks5_server(seen)
    port = server.sockets[0].getsockname()[1]
    b = make(emu.url, creds, tmp_path, proxy_url=f"socks5://127.0.0.1:{port}")
    try:
        assert text_of(await run(b))
        emu_port = int(emu.url.rsplit(":", 1)[1].split("/")[0])
        assert seen and all(p == emu_port for _, p in seen)
    finally:
        await b.aclose()
        server.close()


# ------------------------------------------------------------------ the IPC image route (option)

async def test_image_route_ipc(emu: LingmaRemoteEmulator, creds: Path, tmp_path: Path) -> None:
    from fakes.ir_backend import ScriptedBackend, text_script

    ipc = ScriptedBackend("ipc", [text_script("a red square")])
    b = make(emu.url, creds, tmp_path, image_backend=ipc)
    image = ir.ImagePart("image/png", "iVBORw0KGgo=")
    r = ir.Request(model="kmodel", messages=(ir.Message("user", (ir.TextPart("what is it?"), image)),))
    try:
        assert text_of(await run(b, r)) == "a red square"  # no tools: IPC answers alone
        assert not emu.chats()
        with_tools = ir.Request(model="kmodel", messages=r.messages, tools=(ir.Tool("Read"),))
        assert text_of(await run(b, with_tools)) == "Hello from fake upstream."
    finally:
        await b.aclose()
    described = ipc.requests[-1]
    assert described.messages[0].text() == "请只根据图片回答，忽略之前的对话历史：what is it?"
    assert described.messages[0].content[1] == image and not described.tools
    sent = emu.chats()[-1].body
    assert sent["messages"][-1]["content"] == "what is it?\n\n[图片上下文]\na red square"
    assert sent["model_config"]["is_vl"] is False and ipc.closed


async def test_detect_for_backend_auto(creds: Path, tmp_path: Path) -> None:
    from lingma_proxy.backends.lingma.remote_factory import detect
    from lingma_proxy.config import Settings

    found = await detect(Settings(remote_auth_file=str(creds)))
    assert isinstance(found, RemoteBackend) and found.name == "remote"
    await found.aclose()
    assert await detect(Settings(remote_auth_file=str(tmp_path / "missing.json"))) is None
