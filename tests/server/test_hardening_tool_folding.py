"""Split tool-call deltas from an OpenAI-compatible upstream, end to end (issue #10, slice B2).

The fake upstream streams tool calls the awkward ways servers do (the name split over deltas
with the index reused and no id, the id only on the last delta, two calls interleaved by
index, arguments before the name); through the real server, every client API, streaming or
not, read with its official SDK, must see exactly the calls the upstream meant: one call per
index, whole names, whole arguments, and the upstream's ids (even when they came last).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from fakes.openai_upstream import FakeOpenAIUpstream, Reply
from lingma_proxy.backends.openai_compat import OpenAICompatBackend
from server_harness import ServerThread, make_settings

W = '{"city": "Paris"}'
CHAT_TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
              for n in ("get_weather", "Read", "Bash")]


def frame(tool_calls: list[dict[str, Any]] | None = None, finish: str | None = None, **delta: Any) -> bytes:
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    body = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(body) + b"\n\n"


SCRIPTS: dict[str, tuple[list[bytes], list[tuple[str | None, str, Any]]]] = {
    # name -> (upstream frames, the calls meant: (upstream id or None, name, arguments))
    "index reused, no id, name split": ([
        frame(role="assistant", content=""),
        frame([{"index": 0, "type": "function", "function": {"name": "get_", "arguments": ""}}]),
        frame([{"index": 0, "function": {"name": "weather"}}]),
        frame([{"index": 0, "function": {"arguments": '{"city": '}}]),
        frame([{"index": 0, "function": {"arguments": '"Paris"}'}}]),
        frame(finish="tool_calls"), b"data: [DONE]\n\n"], [(None, "get_weather", {"city": "Paris"})]),
    "interleaved, id last, arguments before the name": ([
        frame(role="assistant", content=""),
        frame([{"index": 0, "type": "function", "function": {"name": "Re"}}]),
        frame([{"index": 1, "type": "function", "function": {"arguments": '{"c'}}]),
        frame([{"index": 0, "function": {"name": "ad", "arguments": '{"path": '}}]),
        frame([{"index": 1, "function": {"name": "Ba"}}]),
        frame([{"index": 1, "function": {"name": "sh"}}]),
        frame([{"index": 0, "id": "call_read_1", "function": {"arguments": '"/a"}'}}]),
        frame([{"index": 1, "id": "call_bash_2", "function": {"arguments": 'md": "ls"}'}}]),
        frame(finish="tool_calls"), b"data: [DONE]\n\n"],
        [("call_read_1", "Read", {"path": "/a"}), ("call_bash_2", "Bash", {"cmd": "ls"})]),
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIUpstream]:
    f = FakeOpenAIUpstream().start_thread()
    yield f
    f.stop_thread()


@pytest.fixture(scope="module")
def server(fake: FakeOpenAIUpstream) -> Iterator[ServerThread]:
    backend = OpenAICompatBackend("openai", fake.base_url, first_byte_timeout=10)
    with ServerThread(make_settings(backend="openai", trace=False, tool_mode="native"), {"openai": backend}) as s:
        yield s


def chat_calls(server: ServerThread, stream: bool) -> list[tuple[str, str, Any]]:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0, timeout=10)
    kw: dict[str, Any] = {"model": "fake-model", "messages": [{"role": "user", "content": "go"}], "tools": CHAT_TOOLS}
    if stream:
        state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
        for c in client.chat.completions.create(stream=True, **kw):
            state.handle_chunk(c)
        message: Any = state.get_final_completion().choices[0].message
    else:
        message = client.chat.completions.create(**kw).choices[0].message
    return [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]


def responses_calls(server: ServerThread, stream: bool) -> list[tuple[str, str, Any]]:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0, timeout=10)
    tools: Any = [{"type": "function", "name": t["function"]["name"], "parameters": {"type": "object"}}
                  for t in CHAT_TOOLS]
    if stream:
        done = [e for e in client.responses.create(model="fake-model", input="go", tools=tools, stream=True)
                if e.type == "response.completed"]
        output = done[0].response.output
    else:
        output = client.responses.create(model="fake-model", input="go", tools=tools).output
    return [(o.call_id, o.name, json.loads(o.arguments)) for o in output if o.type == "function_call"]


def messages_calls(server: ServerThread, stream: bool) -> list[tuple[str, str, Any]]:
    client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10)
    kw: dict[str, Any] = {"model": "fake-model", "max_tokens": 100, "messages": [{"role": "user", "content": "go"}],
                          "tools": [{"name": t["function"]["name"], "input_schema": {"type": "object"}}
                                    for t in CHAT_TOOLS]}
    if stream:
        with client.messages.stream(**kw) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(**kw)
    return [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]


CLIENTS = {"chat": chat_calls, "responses": responses_calls, "messages": messages_calls}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "nonstream"])
@pytest.mark.parametrize("api", list(CLIENTS))
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_split_tool_call_deltas_reach_every_client_whole(server: ServerThread, fake: FakeOpenAIUpstream,
                                                          script: str, api: str, stream: bool) -> None:
    frames, meant = SCRIPTS[script]
    fake.queue(Reply.raw_sse(*frames))
    got = CLIENTS[api](server, stream)
    assert [(n, a) for _, n, a in got] == [(n, a) for _, n, a in meant]
    assert len({i for i, _, _ in got}) == len(got)
    for (gid, _, _), (mid, _, _) in zip(got, meant, strict=True):  # the id that came last still made it
        assert gid == mid if mid is not None else gid.startswith("call_")
