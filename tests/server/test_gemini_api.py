"""The Gemini API served through the Dialect seam: the official google-genai SDK against the real
server, to the OpenAI-compatible fake, the Anthropic fake (translated), the Lingma remote and IPC
emulators, and tool emulation; errors in Google's shape, token counting, the model list."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as gerrors, types as gt

from fakes.anthropic_upstream import SIGNATURE, AReply, FakeAnthropicUpstream, thinking_frames, tool_frames
from fakes.lingma_remote import Account, LingmaRemoteEmulator, Reply as LReply
from fakes.openai_upstream import Call, FakeOpenAIUpstream, Reply
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.backends.lingma.remote import RemoteBackend
from lingma_proxy.backends.openai_compat import OpenAICompatBackend
from server_harness import ServerThread, make_settings

KEY = "AIza-gemini-client-key-0123456789"
VERSIONS = ["v1beta", "v1"]
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
WEATHER = gt.FunctionDeclaration(name="get_weather", description="Weather of a city", parameters=gt.Schema(
    type=gt.Type.OBJECT, properties={"city": gt.Schema(type=gt.Type.STRING)}, required=["city"]))
TIME = gt.FunctionDeclaration(name="get_time", description="Time in a city", parameters=gt.Schema(
    type=gt.Type.OBJECT, properties={"city": gt.Schema(type=gt.Type.STRING)}, required=["city"]))
TOOLS = [gt.Tool(function_declarations=[WEATHER, TIME])]


def client(server: ServerThread, version: str = "v1beta", key: str = KEY) -> genai.Client:
    return genai.Client(api_key=key, http_options=gt.HttpOptions(base_url=server.url, api_version=version,
                                                                 timeout=15_000))


def generate(c: genai.Client, stream: bool, model: str, contents: Any,
             config: gt.GenerateContentConfig | None = None) -> gt.GenerateContentResponse:
    """One answer; streamed ones folded the way a client does (the parts of every chunk)."""
    if not stream:
        return c.models.generate_content(model=model, contents=contents, config=config)
    chunks = list(c.models.generate_content_stream(model=model, contents=contents, config=config))
    assert chunks, "no chunk"
    parts = [p for ch in chunks if ch.candidates and ch.candidates[0].content
             for p in (ch.candidates[0].content.parts or [])]
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason is not None
    return gt.GenerateContentResponse(candidates=[gt.Candidate(
        content=gt.Content(role="model", parts=parts), finish_reason=last.candidates[0].finish_reason)],
        usage_metadata=last.usage_metadata)


def text_of(r: gt.GenerateContentResponse) -> str:
    parts = r.candidates[0].content.parts or [] if r.candidates and r.candidates[0].content else []
    return "".join(p.text or "" for p in parts if not p.thought)


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def oa() -> Iterator[tuple[ServerThread, FakeOpenAIUpstream]]:
    fake = FakeOpenAIUpstream().start_thread()
    backend = OpenAICompatBackend("openai", fake.base_url, default_model="fake-model", first_byte_timeout=10)
    try:
        with ServerThread(make_settings(backend="openai", trace=False), {"openai": backend}) as s:
            yield s, fake
    finally:
        fake.stop_thread()


@pytest.fixture(scope="module")
def an() -> Iterator[tuple[ServerThread, FakeAnthropicUpstream]]:
    fake = FakeAnthropicUpstream().start_thread()
    backend = AnthropicBackend("anthropic", fake.url, "sk-ant-test-0123456789", first_byte_timeout=10)
    try:
        with ServerThread(make_settings(backend="anthropic", trace=False), {"anthropic": backend}) as s:
            yield s, fake
    finally:
        fake.stop_thread()


@pytest.fixture
def openai_side(oa: tuple[ServerThread, FakeOpenAIUpstream]) -> tuple[ServerThread, FakeOpenAIUpstream]:
    oa[1].requests.clear()
    oa[1].script.clear()
    return oa


@pytest.fixture
def anthropic_side(an: tuple[ServerThread, FakeAnthropicUpstream]) -> tuple[ServerThread, FakeAnthropicUpstream]:
    an[1].requests.clear()
    an[1].script.clear()
    return an


def _sent_chat(fake: FakeOpenAIUpstream) -> dict[str, Any]:
    sent = [r.json for r in fake.requests if r.path.endswith("/chat/completions")]
    assert sent, "nothing reached the upstream"
    body: dict[str, Any] = sent[-1]
    return body


def _sent_messages(fake: FakeAnthropicUpstream) -> dict[str, Any]:
    recs = fake.messages()
    assert recs, "nothing reached the upstream"
    body: dict[str, Any] = orjson.loads(recs[-1].body)
    return body


# --------------------------------------------------------------------------- text and images


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("stream", [False, True])
def test_text_to_the_openai_backend(openai_side, version: str, stream: bool) -> None:
    server, fake = openai_side
    fake.queue(Reply.of_text("Hello ", "from ", "the fake"))
    r = generate(client(server, version), stream, "fake-model", "Say hello",
                 gt.GenerateContentConfig(system_instruction="Be brief", temperature=0.3, max_output_tokens=50,
                                          stop_sequences=["END"]))
    assert text_of(r) == "Hello from the fake"
    assert r.candidates[0].finish_reason == gt.FinishReason.STOP
    assert r.usage_metadata is not None and r.usage_metadata.prompt_token_count
    sent = _sent_chat(fake)
    assert sent["messages"][0] == {"role": "system", "content": "Be brief"}
    assert sent["messages"][-1]["content"] == "Say hello"
    assert sent["temperature"] == 0.3 and sent["stop"] == ["END"] and sent["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_text_to_the_anthropic_backend_translated(anthropic_side, stream: bool) -> None:
    server, fake = anthropic_side
    r = generate(client(server), stream, "claude-test", "Say hello",
                 gt.GenerateContentConfig(system_instruction="Be brief", max_output_tokens=64))
    assert text_of(r).startswith("Hello")
    sent = _sent_messages(fake)
    assert sent["system"] in ("Be brief", [{"type": "text", "text": "Be brief"}])
    assert sent["max_tokens"] == 64 and sent["messages"][-1]["role"] == "user"


@pytest.mark.parametrize("side", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
def test_an_inline_image_reaches_either_upstream(request, side: str, stream: bool) -> None:
    server, fake = request.getfixturevalue(f"{side}_side")
    image = gt.Part.from_bytes(data=PNG, mime_type="image/png")
    r = generate(client(server), stream, "m", [image, "What is this?"])
    assert text_of(r)
    b64 = base64.b64encode(PNG).decode()
    if side == "openai":
        content = _sent_chat(fake)["messages"][-1]["content"]
        assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}} in content
    else:
        content = _sent_messages(fake)["messages"][-1]["content"]
        assert any(b.get("type") == "image" and b["source"].get("data") == b64 for b in content)


# --------------------------------------------------------------------------- tools


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_calls_and_the_tool_loop_to_the_openai_backend(openai_side, stream: bool) -> None:
    server, fake = openai_side
    fake.queue(Reply.tools([Call("get_weather", '{"city": "Paris"}', id="call_a"),
                            Call("get_time", '{"city": "Rome"}', id="call_b")]))
    c = client(server)
    config = gt.GenerateContentConfig(tools=TOOLS, automatic_function_calling=gt.AutomaticFunctionCallingConfig(
        disable=True))
    first = generate(c, stream, "fake-model", "Weather in Paris and time in Rome?", config)
    calls = [p.function_call for p in first.candidates[0].content.parts if p.function_call]
    assert [(fc.name, fc.args) for fc in calls] == [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Rome"})]
    sent = _sent_chat(fake)
    assert {t["function"]["name"] for t in sent["tools"]} == {"get_weather", "get_time"}
    assert sent["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"

    fake.queue(Reply.of_text("Sunny, and it is noon."))
    history = [gt.Content(role="user", parts=[gt.Part(text="Weather in Paris and time in Rome?")]),
               first.candidates[0].content,
               gt.Content(role="user", parts=[
                   gt.Part(function_response=gt.FunctionResponse(id=calls[0].id, name="get_weather",
                                                                 response={"output": "sunny"})),
                   gt.Part(function_response=gt.FunctionResponse(id=calls[1].id, name="get_time",
                                                                 response={"output": "noon"}))])]
    second = generate(c, stream, "fake-model", history, config)
    assert text_of(second) == "Sunny, and it is noon."
    msgs = _sent_chat(fake)["messages"]
    assistant = next(m for m in msgs if m["role"] == "assistant")
    ids = [tc["id"] for tc in assistant["tool_calls"]]
    results = [m for m in msgs if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in results] == ids and [m["content"] for m in results] == ["sunny", "noon"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_from_the_anthropic_backend(anthropic_side, stream: bool) -> None:
    server, fake = anthropic_side
    fake.queue(AReply.sse(tool_frames("get_weather", '{"city": "Paris"}')))
    config = gt.GenerateContentConfig(tools=TOOLS, tool_config=gt.ToolConfig(
        function_calling_config=gt.FunctionCallingConfig(mode=gt.FunctionCallingConfigMode.ANY,
                                                         allowed_function_names=["get_weather"])),
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True))
    r = generate(client(server), stream, "claude-test", "Weather in Paris?", config)
    (fc,) = [p.function_call for p in r.candidates[0].content.parts if p.function_call]
    assert fc.name == "get_weather" and fc.args == {"city": "Paris"}
    sent = _sent_messages(fake)
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert sent["tools"][0]["input_schema"]["properties"]["city"] == {"type": "string"}


ACTION = '```json action\n{"tool": "get_weather", "parameters": {"city": "Oslo"}}\n```\n'


@pytest.mark.parametrize("stream", [False, True])
def test_tool_emulation_for_gemini_clients(stream: bool) -> None:
    fake = FakeOpenAIUpstream().start_thread()
    backend = OpenAICompatBackend("openai", fake.base_url, default_model="fake-model", first_byte_timeout=10)
    try:
        with ServerThread(make_settings(backend="openai", trace=False, tool_mode="emulate"),
                          {"openai": backend}) as server:
            fake.queue(Reply.of_text("Checking. ", ACTION))
            r = generate(client(server), stream, "fake-model", "Weather in Oslo?", gt.GenerateContentConfig(
                tools=TOOLS, automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
            (fc,) = [p.function_call for p in r.candidates[0].content.parts if p.function_call]
            assert fc.name == "get_weather" and fc.args == {"city": "Oslo"}
            sent = _sent_chat(fake)
            assert "tools" not in sent  # emulated: the contract is in the prompt
            assert "get_weather" in json.dumps(sent["messages"])
    finally:
        fake.stop_thread()


# --------------------------------------------------------------------------- thinking


def test_thinking_from_the_openai_backend_shows_only_when_asked(openai_side) -> None:
    server, fake = openai_side
    c = client(server)
    for include in (True, False):
        fake.queue(Reply.thinking(["Let me ", "think."], ["The answer."]))
        r = generate(c, True, "fake-model", "Think.", gt.GenerateContentConfig(
            thinking_config=gt.ThinkingConfig(include_thoughts=include, thinking_budget=512)))
        thoughts = [p.text for p in r.candidates[0].content.parts if p.thought]
        assert ("".join(thoughts) == "Let me think.") is include and text_of(r) == "The answer."


@pytest.mark.parametrize("stream", [False, True])
def test_signed_thinking_from_anthropic_comes_back_byte_exact(anthropic_side, stream: bool) -> None:
    server, fake = anthropic_side
    fake.queue(AReply.sse(thinking_frames(SIGNATURE)))
    c = client(server)
    config = gt.GenerateContentConfig(thinking_config=gt.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
                                      max_output_tokens=4096)
    first = generate(c, stream, "claude-test", "Think first.", config)
    parts = first.candidates[0].content.parts
    assert any(p.thought and p.text == "Let me think." for p in parts)
    assert any(p.thought_signature for p in parts)
    assert _sent_messages(fake)["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    generate(c, stream, "claude-test", [gt.Content(role="user", parts=[gt.Part(text="Think first.")]),
                                        first.candidates[0].content,
                                        gt.Content(role="user", parts=[gt.Part(text="And now?")])], config)
    assistant = next(m for m in _sent_messages(fake)["messages"] if m["role"] == "assistant")
    thinking = [b for b in assistant["content"] if b["type"] == "thinking"]
    assert thinking and thinking[0]["signature"] == SIGNATURE and thinking[0]["thinking"] == "Let me think."


# --------------------------------------------------------------------------- Lingma backends


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, LingmaRemoteEmulator]]:
    emu = LingmaRemoteEmulator().start_thread()
    account = Account()
    creds = tmp_path_factory.mktemp("lingma") / "credentials.json"
    creds.write_bytes(orjson.dumps({"source": "test", "auth": {
        "cosy_key": account.cosy_key, "encrypt_user_info": account.encrypt_user_info,
        "user_id": account.user_id, "machine_id": account.machine_id}}))
    backend = RemoteBackend("remote", base_url=emu.url, auth_file=str(creds), fallback=False, default_model="kmodel",
                            first_byte_timeout=10, remember_host=False, home=creds.parent)
    try:
        with ServerThread(make_settings(backend="remote", trace=False), {"remote": backend}) as s:
            yield s, emu
    finally:
        emu.stop_thread()


@pytest.mark.parametrize("stream", [False, True])
def test_text_and_a_call_to_the_lingma_remote_backend(remote, stream: bool) -> None:
    server, emu = remote
    emu.queue(LReply.of_text("Hello ", "from Lingma"))
    assert text_of(generate(client(server), stream, "kmodel", "Hi")) == "Hello from Lingma"
    emu.queue(LReply.tools(("call_1", "get_weather", ('{"city": ', '"Paris"}'))))
    r = generate(client(server), stream, "kmodel", "Weather?", gt.GenerateContentConfig(
        tools=TOOLS, automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
    (fc,) = [p.function_call for p in r.candidates[0].content.parts if p.function_call]
    assert fc.name == "get_weather" and fc.args == {"city": "Paris"}


@pytest.fixture(scope="module")
def ipc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Any]]:
    from fakes.lingma_ipc import LingmaIPCEmulator
    from lingma_proxy.config import load_settings
    emu = LingmaIPCEmulator().start_thread(socket_path=str(tmp_path_factory.mktemp("rt") / "lingma.sock"))
    home = tmp_path_factory.mktemp("home")
    settings = load_settings({"backend": "ipc", "ws_url": emu.url, "ping_interval": 10.0, "cwd": "/w",
                              "trace": False}, {}, home, home)
    try:
        with ServerThread(settings) as server:
            yield server, emu
    finally:
        emu.stop_thread()


@pytest.mark.parametrize("stream", [False, True])
def test_the_lingma_ipc_backend_with_emulated_tools(ipc, stream: bool) -> None:
    from fakes.lingma_ipc import Turn
    server, emu = ipc
    emu.reset()
    emu.queue(Turn(text=("Hello from the IDE",), thinking=()))
    assert "Hello from the IDE" in text_of(generate(client(server), stream, "Qwen3-Coder", "Hi"))
    emu.queue(Turn(text=("Looking. ", ACTION), thinking=()))
    r = generate(client(server), stream, "Qwen3-Coder", "Weather in Oslo?", gt.GenerateContentConfig(
        tools=TOOLS, automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
    (fc,) = [p.function_call for p in r.candidates[0].content.parts if p.function_call]
    assert fc.name == "get_weather" and fc.args == {"city": "Oslo"}


# --------------------------------------------------------------------------- stream framings


def test_the_stream_without_alt_sse_is_one_json_array(openai_side) -> None:
    server, fake = openai_side
    fake.queue(Reply.of_text("one ", "two"))
    body = {"contents": [{"role": "user", "parts": [{"text": "count"}]}]}
    r = httpx.post(f"{server.url}/v1beta/models/fake-model:streamGenerateContent", json=body,
                   headers={"x-goog-api-key": KEY}, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    chunks = json.loads(r.text)
    assert isinstance(chunks, list) and len(chunks) >= 2
    text = "".join(p.get("text", "") for ch in chunks for p in ch["candidates"][0]["content"].get("parts", []))
    assert text == "one two" and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    fake.queue(Reply.of_text("sse"))
    r = httpx.post(f"{server.url}/v1beta/models/fake-model:streamGenerateContent?alt=sse", json=body, timeout=10)
    assert r.headers["content-type"].startswith("text/event-stream") and r.text.startswith("data: ")


def test_a_model_name_with_a_slash_comes_from_the_path(openai_side) -> None:
    server, fake = openai_side
    fake.queue(Reply.of_text("ok"))
    r = httpx.post(f"{server.url}/v1beta/models/qwen/qwen3-coder:generateContent",
                   json={"contents": [{"parts": [{"text": "hi"}]}]}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["modelVersion"] == "qwen/qwen3-coder"  # the client's name, routed to the default
    assert _sent_chat(fake)["model"] == "fake-model"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("config", "field"), [
    (gt.GenerateContentConfig(candidate_count=2), "generationConfig.candidateCount"),
    (gt.GenerateContentConfig(temperature=3.0), "generationConfig.temperature"),
    (gt.GenerateContentConfig(top_p=1.5), "generationConfig.topP"),
    (gt.GenerateContentConfig(max_output_tokens=0), "generationConfig.maxOutputTokens"),
    (gt.GenerateContentConfig(thinking_config=gt.ThinkingConfig(thinking_budget=-2)),
     "generationConfig.thinkingConfig.thinkingBudget"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_refusals_are_400s_naming_the_field(openai_side, config: gt.GenerateContentConfig, field: str,
                                            stream: bool) -> None:
    server, fake = openai_side
    with pytest.raises(gerrors.ClientError) as err:
        generate(client(server), stream, "fake-model", "hi", config)
    assert err.value.code == 400 and err.value.status == "INVALID_ARGUMENT"
    assert field in err.value.message
    assert not [r for r in fake.requests if r.path.endswith("/chat/completions")]


@pytest.mark.parametrize("path", ["/v1beta/models/m:generateContent", "/v1/models/m:streamGenerateContent?alt=sse",
                                  "/v1beta/models/m:countTokens"])
@pytest.mark.parametrize(("raw", "needle"), [(b"{not json", "invalid JSON"), (b"", "empty"),
                                             (b"[" * 1200 + b"]" * 1200, "nest")])
def test_broken_bodies_are_google_shaped_400s(openai_side, path: str, raw: bytes, needle: str) -> None:
    server, _ = openai_side
    r = httpx.post(server.url + path, content=raw, headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT" and needle.lower() in err["message"].lower()


def test_an_unknown_route_and_model_are_google_shaped_404s(openai_side) -> None:
    server, _ = openai_side
    for path in ("/v1beta/nothing", "/v1beta/models/fake-model:unknownMethod", "/v1beta/models/no-such-model"):
        r = httpx.get(server.url + path, timeout=10) if "unknown" not in path else httpx.post(
            server.url + path, json={}, timeout=10)
        assert r.status_code in (404, 405), (path, r.text)
        err = r.json()["error"]
        assert err["code"] == r.status_code and err["status"] in ("NOT_FOUND", "INVALID_ARGUMENT"), (path, err)
    c = client(server)
    with pytest.raises(gerrors.ClientError) as e:
        c.models.get(model="no-such-model")
    assert e.value.code == 404


@pytest.mark.parametrize("version", VERSIONS)
def test_the_configured_key_in_google_places(version: str) -> None:
    fake = FakeOpenAIUpstream().start_thread()
    backend = OpenAICompatBackend("openai", fake.base_url, default_model="fake-model", first_byte_timeout=10)
    try:
        with ServerThread(make_settings(backend="openai", trace=False, api_key=KEY), {"openai": backend}) as server:
            fake.queue(Reply.of_text("fine"))
            right = client(server, version)
            assert text_of(right.models.generate_content(model="fake-model", contents="hi")) == "fine"
            wrong = client(server, version, key="AIza-wrong-key-000000")
            with pytest.raises(gerrors.ClientError) as err:
                wrong.models.generate_content(model="fake-model", contents="hi")
            assert err.value.code == 401 and err.value.status == "UNAUTHENTICATED"
            assert "x-goog-api-key" in err.value.message
            body = {"contents": [{"parts": [{"text": "hi"}]}]}
            url = f"{server.url}/{version}/models/fake-model"
            fake.queue(Reply.of_text("by query"))
            assert httpx.post(f"{url}:generateContent?key={KEY}", json=body, timeout=10).status_code == 200
            assert httpx.post(f"{url}:generateContent?key=nope", json=body, timeout=10).status_code == 401
            assert httpx.post(f"{url}:countTokens", json=body, timeout=10).status_code == 401
            # the other APIs keep their own places
            oc = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
            assert oc.models.list().data[0].id == "fake-model"
    finally:
        fake.stop_thread()


# --------------------------------------------------------------------------- count and models


@pytest.mark.parametrize("version", VERSIONS)
def test_count_tokens_locally_and_by_the_anthropic_upstream(openai_side, anthropic_side, version: str) -> None:
    server, _ = openai_side
    c = client(server, version)
    small = c.models.count_tokens(model="fake-model", contents="one two three").total_tokens
    big = c.models.count_tokens(model="fake-model", contents="one two three " * 200).total_tokens
    assert 0 < small < big
    aserver, afake = anthropic_side
    ac = client(aserver, version)
    n = ac.models.count_tokens(model="claude-test", contents="count me").total_tokens
    counted = [r for r in afake.requests if r.path == "/v1/messages/count_tokens"]
    assert counted and n == len(counted[-1].body) // 10


@pytest.mark.parametrize("version", VERSIONS)
def test_the_model_list_in_gemini_shape(openai_side, version: str) -> None:
    server, _ = openai_side
    c = client(server, version)
    models = list(c.models.list())
    assert [m.name for m in models] == ["models/fake-model"]
    assert "generateContent" in (models[0].supported_actions or [])
    assert c.models.get(model="fake-model").name == "models/fake-model"
    # the same /v1/models path still answers OpenAI clients in OpenAI's shape
    oc = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    assert [m.id for m in oc.models.list().data] == ["fake-model"]
    caps = httpx.get(server.url + "/v1/capabilities", timeout=10).json()
    assert "google.gemini" in caps["protocols"] and "gemini" in caps["endpoints"]


def test_a_query_key_never_reaches_a_trace(tmp_path: Path) -> None:
    from lingma_proxy.exchange import Exchange
    from lingma_proxy.storage import trace_format
    ex = Exchange(id="x", started=0.0, dialect="gemini", path="/v1beta/models/m:streamGenerateContent",
                  request_body=b'{"contents": []}', request_headers={"x-goog-api-key": KEY},
                  query=f"alt=sse&key={KEY}")
    data = trace_format.build(ex)
    assert KEY.encode() not in data
    record = orjson.loads(data)
    assert record["request"]["query"] == "alt=sse&key=[REDACTED]"
    assert record["request"]["headers"]["x-goog-api-key"] == "[REDACTED]"


@pytest.mark.parametrize("path", ["/v1beta/models/m:generateContent", "/v1/models/m:streamGenerateContent",
                                  "/v1beta/models/m:countTokens"])
def test_a_body_over_the_limit_is_a_google_shaped_413(path: str) -> None:
    fake = FakeOpenAIUpstream().start_thread()
    backend = OpenAICompatBackend("openai", fake.base_url, default_model="fake-model", first_byte_timeout=10)
    try:
        with ServerThread(make_settings(backend="openai", trace=False, max_body_bytes=2048),
                          {"openai": backend}) as server:
            body = {"contents": [{"parts": [{"text": "x" * 4096}]}]}
            r = httpx.post(server.url + path, json=body, timeout=10)
            assert r.status_code == 413, r.text
            assert r.json()["error"]["code"] == 413 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
            assert not [q for q in fake.requests if q.path.endswith("/chat/completions")]
    finally:
        fake.stop_thread()
