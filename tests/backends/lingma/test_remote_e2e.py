"""The three client APIs end to end over the remote backend, driven by the official SDKs.

The server is built from settings the way ``lingma-proxy serve --backend remote`` builds it
(config -> registry -> remote factory), pointed at the emulator running in its own thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from fakes.lingma_remote import Account, Fault, LingmaRemoteEmulator, Reply
from lingma_proxy.config import load_settings
from server_harness import ServerThread

from .remote_fixtures import write_credentials

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Get weather for a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
USAGE = {"prompt_tokens": 31, "completion_tokens": 4, "total_tokens": 35}


@pytest.fixture(scope="module")
def emu() -> Iterator[LingmaRemoteEmulator]:
    e = LingmaRemoteEmulator().start_thread()
    yield e
    e.stop_thread()


@pytest.fixture(scope="module")
def server(emu: LingmaRemoteEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    home = tmp_path_factory.mktemp("home")
    creds = write_credentials(home / "credentials.json", Account())
    settings = load_settings({"backend": "remote", "remote_base_url": emu.url, "remote_auth_file": str(creds),
                              "ping_interval": 10.0}, {}, home, home)
    with ServerThread(settings) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(emu: LingmaRemoteEmulator) -> None:
    emu.script.clear()
    emu.per_model.clear()
    emu.requests.clear()


@pytest.fixture
def oai(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=20)


@pytest.fixture
def claude(server: ServerThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=20)


def test_models_are_the_accounts(oai: openai.OpenAI, emu: LingmaRemoteEmulator) -> None:
    ids = [m.id for m in oai.models.list()]
    assert ids[:3] == ["kmodel", "mmodel", "dashscope_qwen3_coder"] and "org_auto" in ids


def test_chat_non_streaming_with_upstream_usage(oai: openai.OpenAI, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("Hello", " there", usage=USAGE))
    r = oai.chat.completions.create(model="kmodel", messages=[{"role": "system", "content": "Be brief."},
                                                              {"role": "user", "content": "Hi"}])
    assert r.choices[0].message.content == "Hello there" and r.choices[0].finish_reason == "stop"
    assert r.usage is not None and (r.usage.prompt_tokens, r.usage.completion_tokens) == (31, 4)
    body = emu.chats()[-1].body
    assert [m["role"] for m in body["messages"]] == ["system", "user"] and emu.chats()[-1].verified[0]


def test_chat_streaming_tool_call(oai: openai.OpenAI, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.tools(("call_fake_1", "get_weather", ('{"city":', '"Paris"}'))))
    with oai.chat.completions.stream(model="kmodel", tools=[WEATHER],  # type: ignore[list-item]
                                     messages=[{"role": "user", "content": "Weather in Paris?"}]) as s:
        final = s.get_final_completion()
    msg = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(t.id, t.function.name, json.loads(t.function.arguments)) for t in msg.tool_calls or []] == [
        ("call_fake_1", "get_weather", {"city": "Paris"})]

    # the tool result turn reaches upstream as the reference sends it
    oai.chat.completions.create(model="kmodel", tools=[WEATHER], messages=[  # type: ignore[list-item]
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_fake_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_fake_1", "content": "Sunny, 21C"}])
    msgs = emu.chats()[-1].body["messages"]
    assert msgs[2] == {"role": "tool", "content": "Sunny, 21C", "tool_call_id": "call_fake_1",
                       "reasoning_content_signature": "",
                       "response_meta": {"id": "", "usage": {"completion_tokens": 0, "prompt_tokens": 0,
                                                             "total_tokens": 0}}}


def test_chat_fallback_through_the_sdk(oai: openai.OpenAI, emu: LingmaRemoteEmulator) -> None:
    emu.per_model["kmodel"] = Reply.http(500, "upstream boom", "text/plain")
    emu.per_model["mmodel"] = Reply.of_text("fallback answer")
    chunks = list(oai.chat.completions.create(model="kmodel", stream=True,
                                              messages=[{"role": "user", "content": "hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "fallback answer"
    assert [r.model for r in emu.chats()] == ["kmodel", "mmodel"]


def test_chat_errors_are_clear(oai: openai.OpenAI, emu: LingmaRemoteEmulator) -> None:
    emu.per_model["kmodel"] = Reply.http(401)
    with pytest.raises(openai.AuthenticationError) as ei:
        oai.chat.completions.create(model="kmodel", messages=[{"role": "user", "content": "hi"}])
    assert "were rejected" in str(ei.value)


def test_anthropic_stream_and_tools(claude: anthropic.Anthropic, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("Hello", " Claude", usage=USAGE))
    with claude.messages.stream(model="claude-opus-5-5", max_tokens=100, system="Be brief.",
                                messages=[{"role": "user", "content": "Hello"}]) as s:
        m = s.get_final_message()
    assert m.content[0].type == "text" and m.content[0].text == "Hello Claude" and m.stop_reason == "end_turn"
    assert m.usage.output_tokens == 4
    assert emu.chats()[-1].model == "kmodel"  # a client model the account lacks goes to the first chat model

    emu.queue(Reply.tools(("toolu_9", "get_weather", ('{"city":"Paris"}',)), text=("Checking.",)))
    m = claude.messages.create(model="kmodel", max_tokens=100, tools=[{
        "name": "get_weather", "description": "Get weather for a city", "input_schema": WEATHER["function"][
            "parameters"]}], tool_choice={"type": "any"}, messages=[{"role": "user", "content": "Weather?"}])
    assert [b.type for b in m.content] == ["text", "tool_use"] and m.stop_reason == "tool_use"
    assert m.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert emu.chats()[-1].body["tool_choice"] == "required"


def test_anthropic_mid_stream_failure(claude: anthropic.Anthropic, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("partial ", "rest", fault=Fault.sse_status(500, after=1)))
    with pytest.raises(anthropic.APIError) as ei, claude.messages.stream(
            model="kmodel", max_tokens=100, messages=[{"role": "user", "content": "go"}]) as s:
        s.get_final_message()
    assert "error inside the stream" in str(ei.value)


def test_responses_stream_and_function_call(oai: openai.OpenAI, emu: LingmaRemoteEmulator) -> None:
    emu.queue(Reply.of_text("Hello", " responses"))
    with oai.responses.stream(model="kmodel", input="Hi", instructions="Be brief.") as s:
        final = s.get_final_response()
    assert final.output_text == "Hello responses"

    emu.per_model["kmodel"] = Reply.http(429)
    emu.per_model["mmodel"] = Reply.tools(("call_7", "get_weather", ('{"city":', '"Oslo"}')))
    r = oai.responses.create(model="kmodel", input="Weather in Oslo?", tools=[{
        "type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}])
    calls = [o for o in r.output if o.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("call_7", "get_weather", {"city": "Oslo"})]
    assert [x.model for x in emu.chats()][-2:] == ["kmodel", "mmodel"]


def test_health_shows_the_remote_backend(server: ServerThread, oai: openai.OpenAI) -> None:
    import httpx

    oai.models.list()
    body = httpx.get(server.url + "/health", timeout=10).json()
    text = json.dumps(body)
    assert "remote" in text and Account().cosy_key not in text
