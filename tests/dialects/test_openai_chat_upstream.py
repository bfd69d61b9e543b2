"""Chat Completions dialect, upstream side: recorded-style streams from local servers (LM
Studio, Ollama, llama.cpp, vLLM, mlx-lm) with their quirks, parsed to valid IR; every fixture
split at every byte gives the same result; non-streaming answers and error bodies."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dialects.test_openai_chat_support import (
    FIXTURES,
    check_ir_stream,
    check_json,
    normalized,
    parse_sse,
)
from lingma_proxy import errors, ir, sse
from lingma_proxy.dialects import openai_chat as oc

NAMES = sorted(p.stem for p in FIXTURES.glob("*.sse"))


def outcome(raw: bytes, split: int | None = None, *, bytewise: bool = False) -> dict[str, Any]:
    try:
        events = parse_sse(raw, split, bytewise=bytewise)
    except errors.ProxyError as e:
        return {"error": {"class": type(e).__name__, "message": e.message, "code": e.code}}
    check_ir_stream(events)
    return {"response": normalized(ir.accumulate(events))}


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.sse").read_bytes()


def test_every_server_is_covered() -> None:
    servers = {n.split("_")[0] for n in NAMES}
    assert {"lmstudio", "ollama", "llamacpp", "vllm", "mlxlm"} <= servers


@pytest.mark.parametrize("name", NAMES)
def test_fixture_expected_result(name: str) -> None:
    check_json(FIXTURES / f"{name}.expected.json", outcome(fixture(name)))


@pytest.mark.parametrize("name", NAMES)
def test_fixture_split_at_every_byte(name: str) -> None:
    raw = fixture(name)
    whole = outcome(raw)
    for k in range(1, len(raw)):
        assert outcome(raw, k) == whole, f"split at byte {k}"
    assert outcome(raw, bytewise=True) == whole


def _response(name: str) -> ir.Response:
    events = parse_sse(fixture(name))
    check_ir_stream(events)
    return ir.accumulate(events)


def _calls(resp: ir.Response) -> list[tuple[str, str, Any]]:
    return [(c.id, c.name, json.loads(c.arguments)) for c in resp.tool_calls()]


# The facts each fixture is about, stated outright (the expected files hold the whole result).


def test_lmstudio_text_and_trailing_usage() -> None:
    r = _response("lmstudio_text_usage")
    assert (r.id, r.model, r.text(), r.stop_reason) == ("chatcmpl-lms1", "qwen2.5-coder-14b-instruct", "Hello, wörld ✓", "end_turn")
    assert r.usage == ir.Usage(input_tokens=31, output_tokens=6)


def test_lmstudio_reasoning_content_then_tool() -> None:
    r = _response("lmstudio_reasoning_tool")
    assert [type(p).__name__ for p in r.content] == ["ThinkingPart", "TextPart", "ToolCallPart"]
    assert r.content[0] == ir.ThinkingPart("The user wants the file list.")
    assert _calls(r) == [("365174485", "Bash", {"command": "ls -la"})]
    assert r.stop_reason == "tool_use"


def test_ollama_parallel_calls_in_one_chunk_and_stop_means_tool_use() -> None:
    r = _response("ollama_reasoning_parallel_blob")
    assert r.content[0] == ir.ThinkingPart("Two files, read both.")
    assert _calls(r) == [
        ("call_k2v1s9ta", "Read", {"file_path": "/a.py"}),
        ("call_x8m0ppq3", "Read", {"file_path": "/b.py"}),
    ]
    assert r.stop_reason == "tool_use" and r.usage.output_tokens == 44


def test_ollama_arguments_as_an_object() -> None:
    assert _calls(_response("ollama_args_object")) == [("call_obj1", "Grep", {"pattern": "a|b", "path": "src/"})]


def test_llamacpp_think_tags_split_anywhere() -> None:
    r = _response("llamacpp_think_tags")
    assert r.content == (
        ir.ThinkingPart("Okay, 2+2 is 4 (not <b>5</b>)."),
        ir.TextPart("The answer is 4. Tags like <think> stay text here."),
    )
    assert r.usage == ir.Usage(input_tokens=14, output_tokens=25)


def test_llamacpp_name_after_the_id() -> None:
    assert _calls(_response("llamacpp_name_after_id")) == [
        ("jUBdYfPn6X2JwFq4s8hW1aZtK0mR3cEx", "ListDir", {"path": "/tmp"})
    ]


def test_vllm_interleaved_calls_keep_every_fragment() -> None:
    r = _response("vllm_interleaved_calls")
    assert r.text() == "Let me check."  # the "\n\n" between fragments is not a text block
    assert _calls(r) == [
        ("chatcmpl-tool-a1", "Read", {"file_path": "/src/main.py"}),
        ("chatcmpl-tool-b2", "Grep", {"pattern": "TODO|FIXME"}),
    ]
    assert r.usage == ir.Usage(input_tokens=52, output_tokens=60, cache_read_input_tokens=448)


def test_vllm_arguments_after_finish_reason() -> None:
    r = _response("vllm_args_after_finish")
    assert _calls(r) == [("chatcmpl-tool-c3", "Bash", {"command": 'ls -la | grep "x"'})]
    assert r.stop_reason == "tool_use"


def test_vllm_stop_reason_names_the_stop_sequence() -> None:
    r = _response("vllm_stop_reason")
    assert (r.text(), r.stop_reason, r.stop_sequence) == ("one two", "stop_sequence", "three")


def test_vllm_10kb_arguments_intact() -> None:
    raw = fixture("vllm_big_args")
    want = "".join(
        json.loads(line[6:])["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for line in raw.decode().split("\n\n")
        if '"arguments":"' in line and '"arguments":""' not in line
    )
    (call,) = _response("vllm_big_args").tool_calls()
    assert call.arguments == want and len(want) > 10_000
    content = json.loads(call.arguments)["content"]
    assert 'grep -E "x\\"y|z"' in content and "日本語 🚀 \\u00e9" in content


def test_mlxlm_calls_without_index_or_id_and_no_done() -> None:
    r = _response("mlxlm_no_index_no_id")
    assert r.text() == "Reading."
    calls = r.tool_calls()
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("Read", {"file_path": "/a.py"}), ("Read", {"file_path": "/b.py"})]
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("call_") and len(c.id) == 29 for c in calls)


def test_mlxlm_length_without_done() -> None:
    r = _response("mlxlm_text_no_done")
    assert (r.text(), r.stop_reason, r.usage.output_tokens) == ("Short answer, cut", "max_tokens", 4)


def test_cumulative_snapshots_and_a_reused_index() -> None:
    r = _response("misc_cumulative_and_repeated_index")
    assert _calls(r) == [("call_r1", "Read", {"file_path": "/a.py"}), ("call_g2", "Glob", {"pattern": "*.md"})]


@pytest.mark.parametrize(
    ("name", "cls", "needle"),
    [
        ("vllm_context_error", errors.ContextLengthExceeded, "maximum context length is 8192"),
        ("ollama_error_string", errors.UpstreamError, "unexpected EOF"),
        ("lmstudio_error_event", errors.RateLimited, "Model is unloaded"),
        ("misc_malformed_json", errors.UpstreamError, "malformed stream data"),
    ],
)
def test_stream_errors_raise(name: str, cls: type[errors.ProxyError], needle: str) -> None:
    with pytest.raises(cls) as info:
        parse_sse(fixture(name))
    assert needle in info.value.message
    assert "0123456789abcdef" not in info.value.message  # keys never travel in messages


# ----------------------------------------------------------------------------- parser units


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> sse.SSEEvent:
    body: dict[str, Any] = {"id": "chatcmpl-1", "model": "m", **top}
    if delta is not None or finish is not None:
        body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    return sse.SSEEvent(data=orjson.dumps(body).decode())


def _run(*evs: sse.SSEEvent) -> list[ir.Event]:
    p = oc.StreamParser()
    out = [e for ev in evs for e in p.feed(ev)] + p.finish()
    check_ir_stream(out)
    return out


def test_text_after_a_complete_call_follows_it_in_order() -> None:
    out = _run(
        _chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
        _chunk({"content": "done"}),
        _chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
    )
    r = ir.accumulate(out)
    assert [type(p).__name__ for p in r.content] == ["ToolCallPart", "TextPart", "ToolCallPart"]


def test_text_during_an_incomplete_call_is_deferred_after_it() -> None:
    out = _run(
        _chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}),
        _chunk({"content": "note"}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
    )
    r = ir.accumulate(out)
    assert r.content == (ir.ToolCallPart("a", "f", '{"x":1}'), ir.TextPart("note"))


def test_live_call_streams_fragments_as_they_arrive() -> None:
    p = oc.StreamParser()
    p.feed(_chunk({"role": "assistant"}))
    # The header alone starts nothing: the name may still grow ("f" + "n", the SDK's fold); the
    # first argument fragment settles it, and from then on every fragment goes out as it comes.
    assert p.feed(_chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}]})) == []
    head = p.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x'}}]}))
    assert head == [ir.BlockStart(0, "tool_call", id="a", name="f"), ir.ToolArgsDelta(0, '{"x')]
    assert p.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '":1'}}]})) == [ir.ToolArgsDelta(0, '":1')]


def test_an_unnamed_call_with_nothing_in_it_is_dropped() -> None:
    out = _run(_chunk({"content": "hi"}), _chunk({"tool_calls": [{"index": 0}]}), _chunk({}, "stop"))
    r = ir.accumulate(out)
    assert r.content == (ir.TextPart("hi"),) and r.stop_reason == "end_turn"


def test_legacy_function_call_delta() -> None:
    out = _run(_chunk({"function_call": {"name": "f", "arguments": ""}}), _chunk({"function_call": {"arguments": '{"a":1}'}}), _chunk({}, "function_call"))
    r = ir.accumulate(out)
    assert [(c.name, c.arguments) for c in r.tool_calls()] == [("f", '{"a":1}')] and r.stop_reason == "tool_use"


def test_tool_calls_finish_without_a_call_is_end_turn() -> None:
    assert ir.accumulate(_run(_chunk({"content": "x"}), _chunk({}, "tool_calls"))).stop_reason == "end_turn"
    assert oc.parse_response({"choices": [{"message": {"content": "x"}, "finish_reason": "tool_calls"}]}).stop_reason == "end_turn"


def test_refusal_and_content_filter() -> None:
    r = ir.accumulate(_run(_chunk({"refusal": "I can't help"}), _chunk({}, "content_filter")))
    assert (r.text(), r.stop_reason) == ("I can't help", "refusal")


def test_message_start_ids() -> None:
    out = _run(sse.SSEEvent(data='{"choices":[{"index":0,"delta":{"content":"x"}}]}'))
    start = out[0]
    assert isinstance(start, ir.MessageStart) and start.id.startswith("chatcmpl-") and start.model == ""


def test_nothing_before_the_end_is_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamError, match="before any"):
        oc.StreamParser().finish()
    with pytest.raises(errors.UpstreamError):
        oc.StreamParser().feed(sse.SSEEvent(data="[DONE]"))


def test_non_object_chunk_and_garbage() -> None:
    with pytest.raises(errors.UpstreamError, match="not an object"):
        oc.StreamParser().feed(sse.SSEEvent(data="[1,2]"))
    p = oc.StreamParser()
    assert p.feed(sse.SSEEvent(comment="keep-alive")) == [] and p.feed(sse.SSEEvent(data="")) == []


def test_plain_text_error_event() -> None:
    with pytest.raises(errors.ContextLengthExceeded, match="n_ctx"):
        oc.StreamParser().feed(sse.SSEEvent(data="n_keep >= n_ctx", event="error"))


def test_nothing_after_done() -> None:
    p = oc.StreamParser()
    p.feed(_chunk({"content": "x"}))
    assert p.feed(sse.SSEEvent(data="[DONE]"))[-1] == ir.MessageStop()
    assert p.feed(_chunk({"content": "late"})) == [] and p.finish() == []


def test_think_tag_unclosed_at_the_end_is_thinking() -> None:
    r = ir.accumulate(_run(_chunk({"content": "<think>still going</thi"}), _chunk({}, "length")))
    assert r.content == (ir.ThinkingPart("still going</thi"),) and r.stop_reason == "max_tokens"


def test_lone_partial_tag_is_text() -> None:
    assert ir.accumulate(_run(_chunk({"content": "<th"}))).content == (ir.TextPart("<th"),)


# ----------------------------------------------------------------------------- non-streaming


def test_parse_response_full() -> None:
    body = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "model": "qwen3",
        "choices": [{
            "index": 0,
            "finish_reason": "stop",
            "message": {
                "role": "assistant",
                "content": "<think>hmm</think>\n\nHere.",
                "tool_calls": [
                    {"type": "function", "function": {"name": "Read", "arguments": {"file_path": "/a"}}},
                    {"id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
                ],
            },
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110,
                  "prompt_tokens_details": {"cached_tokens": 60}, "completion_tokens_details": {"reasoning_tokens": 4}},
    }  # fmt: skip
    r = oc.parse_response(body)
    assert r.content[:2] == (ir.ThinkingPart("hmm"), ir.TextPart("Here."))
    c1, c2 = r.tool_calls()
    assert (c1.name, c1.arguments) == ("Read", '{"file_path":"/a"}') and len(c1.id) == 29
    assert (c2.id, c2.arguments) == ("call_2", '{"command":"ls"}')
    assert r.stop_reason == "tool_use"
    assert r.usage == ir.Usage(input_tokens=40, output_tokens=10, cache_read_input_tokens=60, reasoning_tokens=4)


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
     ("content_filter", "refusal"), (None, "end_turn"), ("eos", "end_turn")],
)  # fmt: skip
def test_parse_response_finish_reasons(finish: str | None, reason: str) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    calls = [call] if reason == "tool_use" else None
    body = {"choices": [{"message": {"content": "x", "tool_calls": calls}, "finish_reason": finish}]}
    assert oc.parse_response(body).stop_reason == reason


def test_parse_response_reasoning_fields_and_refusal() -> None:
    r = oc.parse_response({"choices": [{"message": {"reasoning": "r", "content": None, "refusal": "no"}, "finish_reason": "stop"}]})
    assert r.content == (ir.ThinkingPart("r"), ir.TextPart("no")) and r.stop_reason == "refusal"
    r = oc.parse_response({"choices": [{"message": {"reasoning_content": "a", "content": "<think>b</think>c"}}]})
    assert r.content == (ir.ThinkingPart("ab"), ir.TextPart("c"))


@pytest.mark.parametrize(
    "body",
    [None, [], "text", {}, {"object": "list", "data": []}, {"choices": "x"}, {"choices": []}, {"choices": [3]}],
)
def test_parse_response_rejects_non_completions(body: Any) -> None:
    with pytest.raises(errors.UpstreamError):
        oc.parse_response(body)


def test_parse_response_error_body_raises_the_error() -> None:
    with pytest.raises(errors.RateLimited):
        oc.parse_response({"error": {"message": "slow down", "type": "rate_limit_error"}})


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (400, b'{"error":{"message":"bad tool","type":"invalid_request_error","param":"tools","code":null}}', errors.InvalidRequest, "bad tool"),
        (404, b'{"error":"model \\"x\\" not found, try pulling it first"}', errors.NotFound, 'model "x" not found, try pulling it first'),
        (500, b'{"error":{"code":500,"message":"llama.cpp crashed","type":"server_error"}}', errors.UpstreamError, "llama.cpp crashed"),
        (400, b'{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}', errors.ContextLengthExceeded, "the request exceeds the available context size, try increasing it"),
        (400, b'{"object":"error","message":"This model\'s maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}', errors.ContextLengthExceeded, "This model's maximum context length is 4096 tokens."),
        (422, b'{"detail":[{"loc":["body","messages"],"msg":"field required"}]}', errors.InvalidRequest, '[{"loc":["body","messages"],"msg":"field required"}]'),
        (400, b'{"detail":"n_keep >= n_ctx"}', errors.ContextLengthExceeded, "n_keep >= n_ctx"),
        (401, b'{"message":"Incorrect API key provided: sk-abcdef1234567890XYZ"}', errors.AuthenticationFailed, "Incorrect API key provided: sk-abcdef***"),
        (429, b"Too Many Requests", errors.RateLimited, "Too Many Requests"),
        (502, b"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>", errors.UpstreamError, "upstream answered HTTP 502 with an HTML page (502 Bad Gateway)"),
        (503, b"", errors.Overloaded, "upstream answered HTTP 503 with an empty body"),
        (500, b'"plain json string"', errors.UpstreamError, "plain json string"),
        (500, b'{"unexpected": 1}', errors.UpstreamError, '{"unexpected": 1}'),
    ],
)  # fmt: skip
def test_parse_error_table(status: int, body: bytes, cls: type[errors.ProxyError], message: str) -> None:
    err = oc.parse_error(status, body)
    assert type(err) is cls and err.message == message


def test_parse_error_keeps_param_and_code() -> None:
    err = oc.parse_error(400, b'{"error":{"message":"m","type":"invalid_request_error","param":"tools[0]","code":"bad_tool"}}')
    assert (err.param, err.code) == ("tools[0]", "bad_tool")
    assert oc.parse_error(400, b'{"error":{"message":"m","code":"context_length_exceeded"}}').code == "context_length_exceeded"


def test_parse_error_truncates_long_text() -> None:
    err = oc.parse_error(500, b"x" * 5000)
    assert len(err.message) <= 300 and err.message.endswith("...")


# ----------------------------------------------------------------------------- fuzz


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
    lambda kids: st.lists(kids, max_size=3)
    | st.dictionaries(
        st.sampled_from(["choices", "delta", "index", "content", "tool_calls", "function", "name", "arguments",
                         "id", "finish_reason", "usage", "reasoning_content", "reasoning", "refusal", "error",
                         "message", "prompt_tokens", "type", "function_call", "stop_reason"]),
        kids, max_size=4),
    max_leaves=16,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JSON, min_size=1, max_size=5))
def test_random_chunks_give_valid_ir_or_a_proxy_error(chunks: list[Any]) -> None:
    p = oc.StreamParser()
    out: list[ir.Event] = []
    try:
        for c in chunks:
            out += p.feed(sse.SSEEvent(data=orjson.dumps(c).decode()))
        out += p.finish()
    except errors.ProxyError:
        return
    check_ir_stream(out)


ALPHA = st.text(alphabet="ab\"|ü日\\:,", min_size=1, max_size=5)
TOOL_DELTA = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(0, 2),
        "id": st.sampled_from(["c1", "c2", "c3"]),
        "type": st.just("function"),
        "function": st.fixed_dictionaries({}, optional={"name": st.sampled_from(["f", "g"]), "arguments": ALPHA}),
    },
)
DELTA = st.one_of(
    st.fixed_dictionaries({"content": ALPHA}),
    st.fixed_dictionaries({"reasoning_content": ALPHA}),
    st.fixed_dictionaries({"tool_calls": st.lists(TOOL_DELTA, min_size=1, max_size=3)}),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DELTA, min_size=1, max_size=12), st.sampled_from([None, "stop", "tool_calls", "length"]))
def test_tool_call_soup_keeps_every_character(deltas: list[dict[str, Any]], finish: str | None) -> None:
    """Whatever order fragments come in, IR blocks stay sequential and no text, reasoning or
    argument character is lost (arguments here never form JSON, so nothing is deduplicated)."""
    events = _run(*[_chunk(d) for d in deltas], _chunk({}, finish))
    r = ir.accumulate(events)
    fed_args = "".join(
        tc.get("function", {}).get("arguments", "") for d in deltas for tc in d.get("tool_calls", [])
    )
    got_args = "".join(c.arguments for c in r.tool_calls() if c.arguments != "{}")
    assert sorted(fed_args) == sorted(got_args)
    assert r.text() == "".join(d.get("content", "") for d in deltas)
    thinking = "".join(p.text for p in r.content if isinstance(p, ir.ThinkingPart))
    assert thinking == "".join(d.get("reasoning_content", "") for d in deltas)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_parse_response_never_crashes(body: Any) -> None:
    try:
        assert isinstance(oc.parse_response(body), ir.Response)
    except errors.ProxyError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(400, 599), st.one_of(st.binary(max_size=40), JSON.map(orjson.dumps)))
def test_parse_error_always_answers(status: int, body: bytes) -> None:
    assert isinstance(oc.parse_error(status, body), errors.ProxyError)
