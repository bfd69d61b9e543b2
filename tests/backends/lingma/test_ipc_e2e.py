"""The three client APIs end to end over the IPC backend, driven by the official SDKs.

The server is built from settings the way ``lingma-proxy serve --backend ipc --ws-url ...``
builds it (config -> registry -> IPC factory), pointed at the runtime emulator in its own
thread. Tools go through the relay's tool emulation: the emulated model answers a first turn
with an action block and, once the tool result is in its transcript, with the final answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from fakes.lingma_ipc import LingmaIPCEmulator, Turn, tool_loop
from lingma_proxy.config import load_settings
from server_harness import ServerThread

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Get weather for a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
THOUGHT = Turn(text=("The answer", " is 4."), thinking=("2+2", " is 4"))


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LingmaIPCEmulator]:
    e = LingmaIPCEmulator().start_thread(socket_path=str(tmp_path_factory.mktemp("rt") / "lingma.sock"))
    yield e
    e.stop_thread()


@pytest.fixture(scope="module")
def server(emu: LingmaIPCEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    home = tmp_path_factory.mktemp("home")
    settings = load_settings({"backend": "ipc", "ws_url": emu.url, "ping_interval": 10.0, "cwd": "/w"}, {}, home, home)
    with ServerThread(settings) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(emu: LingmaIPCEmulator) -> None:
    emu.reset()


@pytest.fixture
def oai(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=20)


@pytest.fixture
def claude(server: ServerThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=20)


def test_models_are_the_runtimes_display_names(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()][:3] == ["Kimi-K2.6", "Auto", "Qwen3-Coder"]


def test_chat_completions_plain_streaming_and_reasoning(oai: openai.OpenAI, emu: LingmaIPCEmulator) -> None:
    r = oai.chat.completions.create(model="Kimi-K2.6", messages=[{"role": "user", "content": "Hi there"}])
    msg = r.choices[0].message
    assert msg.content == "Hello from fake IPC." and r.choices[0].finish_reason == "stop"
    assert getattr(msg, "reasoning_content", None) is None  # not asked: the thought stays out
    assert r.usage is not None and r.usage.prompt_tokens == 321 and r.model == "Kimi-K2.6"

    emu.queue(THOUGHT)
    chunks = list(oai.chat.completions.create(model="Kimi-K2.6", stream=True, reasoning_effort="high",
                                              messages=[{"role": "user", "content": "2+2?"}]))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == "The answer is 4."
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in deltas) == "2+2 is 4"
    prompt = list(emu.sessions.values())[-1]["prompts"][-1]
    assert prompt.startswith("System instructions:\n\nReasoning mode is enabled.")


def test_anthropic_messages_with_thinking_streaming_and_not(claude: anthropic.Anthropic, emu: LingmaIPCEmulator) -> None:
    emu.queue(THOUGHT, THOUGHT)
    m = claude.messages.create(model="Kimi-K2.6", max_tokens=1000, thinking={"type": "enabled", "budget_tokens": 2000},
                               messages=[{"role": "user", "content": "2+2?"}])
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "2+2 is 4" and m.content[1].text == "The answer is 4."  # type: ignore[union-attr]
    with claude.messages.stream(model="Kimi-K2.6", max_tokens=1000, system="Be brief.",
                                thinking={"type": "enabled", "budget_tokens": 2000},
                                messages=[{"role": "user", "content": "2+2?"}]) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"] and final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 321 and final.usage.output_tokens > 0


def test_responses_with_reasoning_streaming_and_not(oai: openai.OpenAI, emu: LingmaIPCEmulator) -> None:
    r = oai.responses.create(model="Kimi-K2.6", input="Hello responses API", instructions="Be brief.")
    assert r.output_text == "Hello from fake IPC." and [o.type for o in r.output] == ["message"]
    emu.queue(THOUGHT)
    with oai.responses.stream(model="Kimi-K2.6", input="2+2?", reasoning={"effort": "low"}) as s:
        final = s.get_final_response()
    assert [o.type for o in final.output] == ["reasoning", "message"] and final.output_text == "The answer is 4."


def test_openai_tool_loop_through_emulation(oai: openai.OpenAI, emu: LingmaIPCEmulator) -> None:
    emu.responder = tool_loop("get_weather", {"city": "Paris"}, "It is {result} in Paris.")
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]
    first = oai.chat.completions.create(model="Kimi-K2.6", tools=[WEATHER], messages=messages)  # type: ignore[list-item]
    call = (first.choices[0].message.tool_calls or [None])[0]
    assert first.choices[0].finish_reason == "tool_calls" and call is not None
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21C"}]
    with oai.chat.completions.stream(model="Kimi-K2.6", tools=[WEATHER], messages=messages) as s:  # type: ignore[arg-type]
        final = s.get_final_completion()
    assert final.choices[0].message.content == "It is Sunny, 21C in Paris." and final.choices[0].finish_reason == "stop"
    sent = [s["prompts"][-1] for s in emu.sessions.values() if s["prompts"]][-2:]
    assert sent[0].startswith("User: Weather in Paris?\n\n# Tools") and sent[0].endswith("\n\nAssistant:")
    assert f'call_id="{call.id}"' not in sent[0] and f'<tool_result call_id="{call.id}"' in sent[1]


def test_anthropic_tool_loop_through_emulation(claude: anthropic.Anthropic, emu: LingmaIPCEmulator) -> None:
    emu.responder = tool_loop("get_weather", {"city": "Oslo"}, "Oslo: {result}.")
    tools = [{"name": "get_weather", "description": "Get weather for a city",
              "input_schema": WEATHER["function"]["parameters"]}]
    messages: list = [{"role": "user", "content": "Weather in Oslo?"}]
    with claude.messages.stream(model="Kimi-K2.6", max_tokens=500, tools=tools, messages=messages) as s:  # type: ignore[arg-type]
        first = s.get_final_message()
    use = next(b for b in first.content if b.type == "tool_use")
    assert first.stop_reason == "tool_use" and use.name == "get_weather" and use.input == {"city": "Oslo"}
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Cloudy, 7C"}]}]
    final = claude.messages.create(model="Kimi-K2.6", max_tokens=500, tools=tools, messages=messages)  # type: ignore[arg-type]
    assert final.stop_reason == "end_turn" and final.content[0].text == "Oslo: Cloudy, 7C."  # type: ignore[union-attr]


def test_failures_reach_clients_as_errors(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.APIStatusError) as ei:
        oai.chat.completions.create(model="Kimi-K2.6", messages=[{"role": "user", "content": "SCENARIO:noreply"}])
    assert ei.value.status_code == 502 and "did not produce an assistant reply" in str(ei.value)
    with pytest.raises(anthropic.APIError) as ai, claude.messages.stream(
            model="Kimi-K2.6", max_tokens=100, messages=[{"role": "user", "content": "SCENARIO:close"}]) as s:
        s.get_final_message()
    assert "mid-answer" in str(ai.value)


def test_health_shows_the_ipc_runtime(server: ServerThread, emu: LingmaIPCEmulator) -> None:
    body = httpx.get(server.url + "/health", timeout=10).json()
    assert "ipc" in json.dumps(body) and emu.url in json.dumps(body)


def test_the_backend_is_chosen_by_auto_detection(emu: LingmaIPCEmulator, tmp_path: Path) -> None:
    info = emu.write_info(tmp_path / "home" / ".lingma")
    settings = load_settings({"ping_interval": 10.0, "shared_client_info": str(info)}, {}, tmp_path, tmp_path / "home")
    with ServerThread(settings) as s:
        r = openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0, timeout=20).chat.completions.create(
            model="Kimi-K2.6", messages=[{"role": "user", "content": "Hi"}])
    assert r.choices[0].message.content == "Hello from fake IPC."
