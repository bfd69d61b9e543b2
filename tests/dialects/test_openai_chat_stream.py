"""Chat Completions dialect, client side: streams and responses rendered from the golden IR
cases, byte-compared with the goldens, validated by the official SDK types and its stream
accumulator, and parsed back to the same IR."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings, strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from dialects.test_openai_chat_support import (
    CREATED,
    check_bytes,
    check_ir_stream,
    goldens,
    parse_sse,
    strip_for_chat,
)
from lingma_proxy import errors, ir
from lingma_proxy.dialects import openai_chat as oc

SCENARIOS = goldens.scenarios()
REQ = ir.Request(
    model="test-model",
    messages=(ir.Message("user", (ir.TextPart("hi"),)),),
    stream=True,
    dialect=oc.NAME,
    extra={"stream_options": {"include_usage": True}},
)


def render_stream(events: list[ir.Event], req: ir.Request | None = REQ) -> bytes:
    r = oc.StreamRenderer(req, created=CREATED)
    out = [b for ev in events for b in r.feed(ev)]
    out += r.finish()
    return b"".join(out)


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """Split rendered SSE into JSON chunks; checks framing and the closing [DONE]."""
    frames = raw.split(b"\n\n")
    assert frames[-1] == b"" and frames[-2] == b"data: [DONE]", raw[-40:]
    out = []
    for f in frames[:-2]:
        assert f.startswith(b"data: ") and b"\n" not in f, f
        out.append(orjson.loads(f[6:]))
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stream_golden(scenario: str) -> None:
    raw = render_stream(goldens.load_events(scenario))
    check_bytes(goldens.wire_path(scenario, "openai_chat.stream.sse"), raw)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_response_golden(scenario: str) -> None:
    resp = ir.accumulate(goldens.load_events(scenario))
    body = oc.render_response(resp, REQ, created=CREATED)
    ChatCompletion.model_validate(body)
    raw = orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"
    check_bytes(goldens.wire_path(scenario, "openai_chat.response.json"), raw)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stream_validates_and_folds_with_the_sdk(scenario: str) -> None:
    events = goldens.load_events(scenario)
    expected = ir.accumulate(events)
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    ids, usage = set(), None
    for c in chunks(render_stream(events)):
        chunk = ChatCompletionChunk.model_validate(c)
        ids.add((chunk.id, chunk.created, chunk.model))
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
        state.handle_chunk(chunk)
    assert ids == {("chatcmpl-" + expected.id, CREATED, "test-model")}
    # (get_final_completion() refuses finish_reason "length"; the snapshot is the same fold)
    final = state.current_completion_snapshot
    msg = final.choices[0].message
    assert (msg.content or "") == expected.text()
    calls = [(t.id, t.function.name, t.function.arguments) for t in msg.tool_calls or [] if t.type == "function"]
    assert calls == [(p.id, p.name, p.arguments) for p in expected.tool_calls()]
    thinking = "".join(p.text for p in expected.content if isinstance(p, ir.ThinkingPart))
    assert (msg.model_extra or {}).get("reasoning_content", "") == thinking
    assert usage is not None
    assert usage.prompt_tokens == expected.usage.total_input_tokens
    assert usage.completion_tokens == expected.usage.output_tokens
    want = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
    assert final.choices[0].finish_reason == want[expected.stop_reason]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stream_parses_back_to_the_same_response(scenario: str) -> None:
    events = goldens.load_events(scenario)
    parsed = parse_sse(render_stream(events))
    check_ir_stream(parsed)
    expected = strip_for_chat(ir.accumulate(events))
    assert dataclasses.replace(ir.accumulate(parsed), id="") == expected


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_response_parses_back_to_the_same_response(scenario: str) -> None:
    resp = ir.accumulate(goldens.load_events(scenario))
    back = oc.parse_response(oc.render_response(resp, REQ, created=CREATED))
    assert back.id == "chatcmpl-" + resp.id
    assert dataclasses.replace(back, id="") == strip_for_chat(resp)


def test_usage_chunk_only_when_asked() -> None:
    events = goldens.load_events("text_simple")
    plain = dataclasses.replace(REQ, extra={})
    assert all("usage" not in c for c in chunks(render_stream(events, plain)))
    assert sum("usage" in c for c in chunks(render_stream(events))) == 1


def test_ping_and_stream_error() -> None:
    r = oc.StreamRenderer(REQ, created=CREATED)
    out = r.feed(ir.MessageStart("msg_x", "m"))
    assert r.feed(ir.Ping()) == [b": ping\n\n"]
    out = r.feed(ir.StreamError("overloaded_error", "busy", 529))
    assert out == [
        b'data: {"error":{"message":"busy","type":"overloaded_error","param":null,"code":null}}\n\n',
        b"data: [DONE]\n\n",
    ]
    assert r.feed(ir.TextDelta(0, "late")) == [] and r.finish() == []


def test_the_sdk_raises_on_a_stream_error() -> None:
    import httpx
    import openai

    r = oc.StreamRenderer(REQ, created=CREATED)
    raw = b"".join(r.feed(ir.MessageStart("msg_x", "m")) + r.feed(ir.StreamError("api_error", "boom")))
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=raw, headers={"content-type": "text/event-stream"})
    )
    client = openai.OpenAI(api_key="k", base_url="http://test/v1", http_client=httpx.Client(transport=transport))
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.APIError, match="boom"):
        list(stream)


def test_finish_without_message_stop_closes_the_stream() -> None:
    r = oc.StreamRenderer(REQ, created=CREATED)
    out = r.feed(ir.MessageStart("chatcmpl-abc", "m"))
    out += r.feed(ir.BlockStart(0, "text")) + r.feed(ir.TextDelta(0, "partial"))
    out += r.finish()
    cs = chunks(b"".join(out))
    assert cs[0]["id"] == "chatcmpl-abc" and cs[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert cs[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert cs[-1]["choices"] == [] and cs[-1]["usage"]["total_tokens"] == 0
    assert r.finish() == []


def test_finish_with_nothing_at_all_still_answers() -> None:
    cs = chunks(b"".join(oc.StreamRenderer(REQ, created=CREATED).finish()))
    assert cs[0]["choices"][0]["delta"]["role"] == "assistant" and cs[0]["model"] == "test-model"
    assert cs[1]["choices"][0]["finish_reason"] == "stop"


def test_tool_calls_win_over_end_turn_in_the_finish_reason() -> None:
    events = [
        ir.MessageStart("msg_1", "m"),
        ir.BlockStart(0, "tool_call", id="call_1", name="Bash"),
        ir.ToolArgsDelta(0, "{}"),
        ir.BlockStop(0),
        ir.MessageDelta("end_turn"),
        ir.MessageStop(),
    ]
    cs = chunks(render_stream(events))
    assert cs[-2]["choices"][0]["finish_reason"] == "tool_calls"
    body = oc.render_response(ir.accumulate(events), REQ, created=CREATED)
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["content"] is None


def test_custom_tool_call_renders_as_custom_in_a_response() -> None:
    resp = ir.Response("msg_c", "m", (ir.ToolCallPart("call_1", "apply_patch", '{"input":"*** Begin"}', kind="custom"),), "tool_use")
    body = oc.render_response(resp, REQ, created=CREATED)
    ChatCompletion.model_validate(body)
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "call_1", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin"}}


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "stop"),
     ("refusal", "content_filter"), ("pause_turn", "stop"), ("error", "stop")],
)  # fmt: skip
def test_finish_reason_table(reason: ir.StopReason, finish: str) -> None:
    """Text-only responses (tool_use without a call has nothing to run: "stop")."""
    resp = ir.Response("msg_1", "m", (ir.TextPart("x"),), reason)
    assert oc.render_response(resp, REQ, created=1)["choices"][0]["finish_reason"] == finish


def test_render_error_shape() -> None:
    err = errors.InvalidRequest("bad", param="messages[0].role")
    assert oc.render_error(err) == {
        "error": {"message": "bad", "type": "invalid_request_error", "param": "messages[0].role", "code": None}
    }
    ctx = oc.render_error(errors.ContextLengthExceeded("too long"))
    assert ctx["error"]["code"] == "context_length_exceeded"
    assert oc.render_error(errors.RateLimited("slow"))["error"]["type"] == "rate_limit_error"


# ----------------------------------------------------------------------------- round trip


_TEXT = st.text(min_size=1, max_size=12).filter(lambda t: t.strip() and not t.lstrip().startswith("<"))
_ARGS = st.dictionaries(st.text(max_size=4), st.text(max_size=6) | st.integers(-1000, 1000), max_size=3).map(
    lambda d: orjson.dumps(d).decode()
)
_PART = st.one_of(
    _TEXT.map(ir.TextPart),
    _TEXT.map(ir.ThinkingPart),
    st.builds(ir.ToolCallPart, st.from_regex(r"call_[a-z0-9]{4}", fullmatch=True), st.sampled_from(["Read", "Bash"]), _ARGS),
)


def _no_adjacent_same_kind(parts: list[ir.Part]) -> bool:
    kinds = [type(p) for p in parts]
    ok = all(not (a is b and a is not ir.ToolCallPart) for a, b in itertools.pairwise(kinds))
    return ok and (not parts or not isinstance(parts[0], ir.TextPart) or not parts[0].text[:1].isspace())


@settings(max_examples=200, deadline=None)
@given(st.lists(_PART, max_size=6).filter(_no_adjacent_same_kind), st.sampled_from(["end_turn", "max_tokens", "tool_use"]))
def test_any_response_survives_render_then_parse(parts: list[ir.Part], reason: ir.StopReason) -> None:
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    if has_calls and reason == "end_turn":  # Chat ties "tool_calls" to the presence of calls
        reason = "tool_use"
    elif not has_calls and reason == "tool_use":
        reason = "end_turn"
    resp = ir.Response("msg_rt", "m", tuple(parts), reason, usage=ir.Usage(3, 4, 5, 0, 1))
    parsed = parse_sse(render_stream(ir.response_events(resp)))
    check_ir_stream(parsed)
    assert dataclasses.replace(ir.accumulate(parsed), id="") == dataclasses.replace(resp, id="")
    back = oc.parse_response(oc.render_response(resp, REQ, created=CREATED))
    # a whole response folds text and reasoning into one of each
    assert back.text() == resp.text() and back.tool_calls() == resp.tool_calls()
