"""Anthropic Messages dialect: responses, streams and errors, checked against the golden cases
and the official SDK (its pydantic types, its stream accumulator and its client)."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import orjson
import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import goldens
from lingma_proxy import errors, ir, sse
from lingma_proxy.dialects import anthropic_messages as am

SCENARIOS = goldens.scenarios()
REQ = ir.Request(model="test-model", messages=(ir.Message("user", (ir.TextPart("hi"),)),), stream=True)
EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
FRAME = re.compile(rb"event: ([a-z_]+)\ndata: ([^\n]*)\n\n")


def render_stream(events: list[ir.Event], req: ir.Request = REQ) -> bytes:
    r = am.StreamRenderer(req)
    out = [b for ev in events for b in r.feed(ev)]
    out += r.finish()
    return b"".join(out)


def frames(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Split rendered SSE into (event, data) and check nothing else is in the bytes."""
    found = FRAME.findall(raw)
    assert b"".join(b"event: %s\ndata: %s\n\n" % f for f in found) == raw
    out = []
    for name, data in found:
        payload = orjson.loads(data)
        assert payload["type"] == name.decode()
        out.append((name.decode(), payload))
    return out


def parse_stream(raw: bytes, chunk: int = 0) -> list[ir.Event]:
    dec, parser = sse.SSEDecoder(), am.StreamParser()
    pieces = [raw[i : i + chunk] for i in range(0, len(raw), chunk)] if chunk else [raw]
    out: list[ir.Event] = []
    for piece in pieces:
        for ev in dec.feed(piece):
            out += parser.feed(ev)
    for ev in dec.finish():
        out += parser.feed(ev)
    return out + parser.finish()


def sdk_fold(raw: bytes) -> Any:
    """Validate every frame with the SDK's types and fold them with the SDK's accumulator."""
    snapshot, bufs = None, {}
    for name, payload in frames(raw):
        if name in ("ping", "error"):
            continue
        event = EVENT_ADAPTER.validate_python(payload)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    return snapshot


def sdk_client(handler: Any) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(handler)
    return anthropic.Anthropic(
        api_key="test", base_url="http://upstream.test", http_client=httpx2.Client(transport=transport), max_retries=0
    )


# --------------------------------------------------------------------------- golden cases


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stream_render_matches_golden(scenario: str) -> None:
    golden = goldens.wire_path(scenario, "anthropic_messages.stream.sse").read_bytes()
    assert render_stream(goldens.load_events(scenario)) == golden


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_response_render_matches_golden(scenario: str) -> None:
    golden = goldens.wire_path(scenario, "anthropic_messages.response.json").read_bytes()
    resp = am.render_response(ir.accumulate(goldens.load_events(scenario)), REQ)
    assert orjson.dumps(resp, option=orjson.OPT_INDENT_2) + b"\n" == golden
    Message.model_validate(resp)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_stream_parser_folds_back_to_the_ir(scenario: str, chunk: int) -> None:
    golden = goldens.wire_path(scenario, "anthropic_messages.stream.sse").read_bytes()
    expected = ir.accumulate(goldens.load_events(scenario))
    assert ir.accumulate(parse_stream(golden, chunk)) == expected


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_stream_folds_in_the_sdk_like_the_response(scenario: str) -> None:
    golden = goldens.wire_path(scenario, "anthropic_messages.stream.sse").read_bytes()
    response = orjson.loads(goldens.wire_path(scenario, "anthropic_messages.response.json").read_bytes())
    snapshot = sdk_fold(golden)
    assert snapshot.to_dict(exclude_none=True) == Message.model_validate(response).to_dict(exclude_none=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sdk_client_reads_golden_stream_and_response(scenario: str) -> None:
    sse_body = goldens.wire_path(scenario, "anthropic_messages.stream.sse").read_bytes()
    json_body = goldens.wire_path(scenario, "anthropic_messages.response.json").read_bytes()

    def handler(request: httpx2.Request) -> httpx2.Response:
        if orjson.loads(request.content).get("stream"):
            return httpx2.Response(200, content=sse_body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, content=json_body, headers={"content-type": "application/json"})

    client = sdk_client(handler)
    kw: Any = {"model": "test-model", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    with client.messages.stream(**kw) as stream:
        streamed = stream.get_final_message()
    created = client.messages.create(**kw)
    dump = lambda blocks: [b.to_dict(exclude_none=True) for b in blocks]  # noqa: E731
    assert dump(streamed.content) == dump(created.content)
    assert streamed.stop_reason == created.stop_reason
    assert streamed.usage.input_tokens == created.usage.input_tokens > 0
    assert streamed.usage.output_tokens == created.usage.output_tokens > 0


def test_sdk_sees_tool_input_and_signature() -> None:
    msg = sdk_fold(goldens.wire_path("tool_call_single", "anthropic_messages.stream.sse").read_bytes())
    assert msg.content[0].input == {"command": 'ls -la | grep "x"'}
    msg = sdk_fold(goldens.wire_path("thinking_then_text", "anthropic_messages.stream.sse").read_bytes())
    assert (msg.content[0].thinking, msg.content[0].signature) == ("Let me think about it.", "sig-abc123")


def test_usage_is_real_at_start_and_end() -> None:
    got = frames(goldens.wire_path("cached_usage", "anthropic_messages.stream.sse").read_bytes())
    start = got[0][1]["message"]["usage"]
    end = got[-2][1]["usage"]
    assert (start["input_tokens"], start["cache_read_input_tokens"], start["cache_creation_input_tokens"]) == (10, 1000, 50)
    assert end == {"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 50, "cache_read_input_tokens": 1000}


# --------------------------------------------------------------------------- renderer edge cases


def kinds(raw: bytes) -> list[str]:
    out = []
    for name, payload in frames(raw):
        if name == "content_block_start":
            name += ":" + payload["content_block"]["type"]
        if name in ("content_block_start:text", "content_block_delta", "content_block_stop") or name.startswith("content_block_start"):
            name += "@" + str(payload["index"])
        out.append(name)
    return out


def test_indexes_are_renumbered_without_gaps() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("msg_x", "m", ir.Usage(5)),
        ir.BlockStart(3, "text"),
        ir.TextDelta(3, "a"),
        ir.BlockStop(3),
        ir.BlockStart(7, "tool_call", id="t1", name="Bash"),
        ir.ToolArgsDelta(7, '{"command":"ls"}'),
        ir.BlockStop(7),
        ir.MessageDelta("tool_use", None, ir.Usage(5, 3)),
        ir.MessageStop(),
    ]
    raw = render_stream(events)
    assert kinds(raw) == [
        "message_start",
        "content_block_start:text@0", "content_block_delta@0", "content_block_stop@0",
        "content_block_start:tool_use@1", "content_block_delta@1", "content_block_stop@1",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert sdk_fold(raw).content[1].input == {"command": "ls"}


def test_tool_args_never_in_block_start() -> None:
    raw = render_stream(goldens.load_events("text_then_parallel_tools"))
    for name, payload in frames(raw):
        if name == "content_block_start" and payload["content_block"]["type"] == "tool_use":
            assert payload["content_block"]["input"] == {}


def test_implicit_start_and_block_for_lenient_upstreams() -> None:
    raw = render_stream([ir.TextDelta(0, "hi"), ir.ThinkingDelta(1, "hm"), ir.MessageStop()])
    assert kinds(raw) == [
        "message_start",
        "content_block_start:text@0", "content_block_delta@0", "content_block_stop@0",
        "content_block_start:thinking@1", "content_block_delta@1", "content_block_stop@1",
        "message_delta", "message_stop",
    ]  # fmt: skip
    msg = sdk_fold(raw)
    assert msg.id.startswith("msg_") and msg.model == "test-model" and msg.stop_reason == "end_turn"


def test_finish_closes_an_unfinished_stream() -> None:
    r = am.StreamRenderer(REQ)
    raw = b"".join(r.feed(ir.MessageStart("msg_1", "m", ir.Usage(9))) + r.feed(ir.BlockStart(0, "text")))
    raw += b"".join(r.feed(ir.TextDelta(0, "partial")) + r.finish())
    assert kinds(raw)[-4:] == ["content_block_delta@0", "content_block_stop@0", "message_delta", "message_stop"]
    assert frames(raw)[-2][1]["usage"]["input_tokens"] == 9
    assert r.finish() == [] and r.feed(ir.TextDelta(0, "late")) == []


def test_finish_on_an_empty_stream_still_makes_a_message() -> None:
    raw = b"".join(am.StreamRenderer(REQ).finish())
    assert kinds(raw) == ["message_start", "message_delta", "message_stop"]
    assert sdk_fold(raw).content == []


def test_stream_error_closes_block_and_ends_stream() -> None:
    r = am.StreamRenderer(REQ)
    out = r.feed(ir.MessageStart("msg_1", "m")) + r.feed(ir.BlockStart(0, "text")) + r.feed(ir.TextDelta(0, "x"))
    out += r.feed(ir.StreamError("overloaded_error", "Upstream is overloaded", 529))
    out += r.feed(ir.MessageDelta("end_turn")) + r.feed(ir.MessageStop()) + r.finish()
    assert out[-2:] == [
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Upstream is overloaded"}}\n\n',
    ]


def test_stream_error_cancelled_is_api_error() -> None:
    out = am.StreamRenderer(REQ).feed(ir.StreamError("cancelled", "gone", 499))
    assert out == [b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"gone"}}\n\n']


def test_ping_and_redacted_thinking() -> None:
    r = am.StreamRenderer(REQ)
    assert r.feed(ir.Ping()) == [b'event: ping\ndata: {"type": "ping"}\n\n']
    raw = b"".join(r.feed(ir.MessageStart("msg_1", "m")) + r.feed(ir.BlockStart(0, "thinking", redacted_data="opaque")))
    raw += b"".join(r.feed(ir.BlockStop(0)) + r.feed(ir.MessageStop()))
    msg = sdk_fold(raw)
    assert msg.content[0].type == "redacted_thinking" and msg.content[0].data == "opaque"


def test_encrypted_signature_and_error_stop_reason_are_not_leaked() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("resp_abc", "m"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "why"),
        ir.SignatureDelta(0, encrypted="gAAAA-responses-blob"),
        ir.BlockStop(0),
        ir.MessageDelta("error"),
        ir.MessageStop(),
    ]
    raw = render_stream(events)
    assert b"gAAAA" not in raw
    msg = sdk_fold(raw)
    assert re.fullmatch(r"msg_[0-9a-f]{24}", msg.id)
    assert msg.stop_reason == "end_turn"


def test_late_tool_args_for_a_closed_block_are_dropped() -> None:
    events: list[ir.Event] = [
        ir.BlockStart(0, "tool_call", id="t", name="Bash"),
        ir.ToolArgsDelta(0, '{"a":1}'),
        ir.BlockStop(0),
        ir.ToolArgsDelta(0, "garbage"),
        ir.MessageStop(),
    ]
    assert sdk_fold(render_stream(events)).content[0].input == {"a": 1}


def test_renderer_fuzzed_arguments_survive_the_sdk() -> None:
    args = {"command": 'echo "a|b" \\ \u00e9\u4e2d\U0001f600 ' + "x" * 10_000, "n": [1, {"k": None}]}
    text = orjson.dumps(args).decode()
    pieces = [text[i : i + 13] for i in range(0, len(text), 13)]
    events: list[ir.Event] = [ir.MessageStart("msg_1", "m"), ir.BlockStart(0, "tool_call", id="t", name="Bash")]
    events += [ir.ToolArgsDelta(0, p) for p in pieces]
    events += [ir.BlockStop(0), ir.MessageDelta("tool_use"), ir.MessageStop()]
    raw = render_stream(events)
    assert sdk_fold(raw).content[0].input == args
    assert ir.accumulate(parse_stream(raw, 5)).content[0] == ir.ToolCallPart("t", "Bash", text)


# --------------------------------------------------------------------------- stream parser


def upstream(*events: tuple[str, dict[str, Any]]) -> bytes:
    return b"".join(sse.encode(orjson.dumps(d), e) for e, d in events)


START = ("message_start", {"type": "message_start", "message": {"id": "msg_u", "model": "claude", "usage": {"input_tokens": 12, "cache_read_input_tokens": 3, "output_tokens": 1}}})  # fmt: skip
STOP = ("message_stop", {"type": "message_stop"})


def test_parser_tool_input_in_block_start_becomes_args_delta() -> None:
    raw = upstream(
        START,
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/x"}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
        STOP,
    )  # fmt: skip
    events = parse_stream(raw)
    assert events[:3] == [
        ir.MessageStart("msg_u", "claude", ir.Usage(12, 1, 3)),
        ir.BlockStart(0, "tool_call", id="toolu_1", name="Read"),
        ir.ToolArgsDelta(0, '{"file_path":"/x"}'),
    ]
    assert events[-2] == ir.MessageDelta("tool_use", None, ir.Usage(12, 7, 3))
    resp = ir.accumulate(events)
    assert resp.tool_calls()[0].parsed_arguments() == {"file_path": "/x"}


def test_parser_skips_server_blocks_and_renumbers() -> None:
    raw = upstream(
        START,
        ("ping", {"type": "ping"}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"q\":1}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("content_block_start", {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "found"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        ("some_future_event", {"type": "some_future_event"}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "model_context_window_exceeded"}, "usage": {"output_tokens": 2}}),
        STOP,
    )  # fmt: skip
    events = parse_stream(raw)
    assert events[1:5] == [ir.Ping(), ir.BlockStart(0, "text"), ir.TextDelta(0, "found"), ir.BlockStop(0)]
    assert ir.accumulate(events).stop_reason == "max_tokens"


def test_parser_thinking_signature_and_redacted() -> None:
    raw = upstream(
        START,
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB=="}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "blob"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
        STOP,
    )  # fmt: skip
    assert ir.accumulate(parse_stream(raw)).content == (
        ir.ThinkingPart("hmm", signature="EqQB=="),
        ir.ThinkingPart("", encrypted="blob", redacted=True),
    )


@pytest.mark.parametrize(
    ("etype", "cls"),
    [
        ("overloaded_error", errors.Overloaded),
        ("rate_limit_error", errors.RateLimited),
        ("api_error", errors.UpstreamError),
        ("invalid_request_error", errors.InvalidRequest),
        ("timeout_error", errors.UpstreamTimeout),
        ("something_new", errors.UpstreamError),
    ],
)
def test_parser_error_event_raises(etype: str, cls: type[errors.ProxyError]) -> None:
    parser = am.StreamParser()
    parser.feed(sse.SSEEvent(orjson.dumps(START[1]).decode(), "message_start"))
    data = orjson.dumps({"type": "error", "error": {"type": etype, "message": "Overloaded"}}).decode()
    with pytest.raises(cls) as info:
        parser.feed(sse.SSEEvent(data, "error"))
    assert type(info.value) is cls and info.value.message == "Overloaded"


@pytest.mark.parametrize(
    ("data", "match"),
    [("not json", "not JSON"), ("[1]", "not a JSON object")],
)
def test_parser_rejects_garbage(data: str, match: str) -> None:
    with pytest.raises(errors.UpstreamError, match=match):
        am.StreamParser().feed(sse.SSEEvent(data, "message_start"))


def test_parser_ignores_comments_and_empty_data_and_flags_truncation() -> None:
    parser = am.StreamParser()
    assert parser.feed(sse.SSEEvent(comment="keep-alive")) == []
    assert parser.feed(sse.SSEEvent("", "ping")) == []
    with pytest.raises(errors.UpstreamError, match="without sending") as info:
        parser.finish()
    assert info.value.retryable
    parser.feed(sse.SSEEvent(orjson.dumps(START[1]).decode(), "message_start"))
    with pytest.raises(errors.UpstreamError, match="before message_stop"):
        parser.finish()


def test_parser_tolerates_malformed_fields() -> None:
    parser = am.StreamParser()
    weird = [
        {"type": "message_start", "message": "nope"},
        {"type": "content_block_start", "index": "0", "content_block": {"type": "text", "text": 5}},
        {"type": "content_block_start", "index": 1, "content_block": None},
        {"type": "content_block_delta", "index": 9, "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_delta", "index": "0", "delta": []},
        {"type": "content_block_stop", "index": None},
        {"type": "message_delta", "delta": None, "usage": {"output_tokens": "many"}},
        {"type": 7},
    ]
    out: list[ir.Event] = []
    for d in weird:
        out += parser.feed(sse.SSEEvent(orjson.dumps(d).decode()))
    assert out[0] == ir.MessageStart("", "", ir.Usage())
    assert ir.accumulate(out).stop_reason == "end_turn"


# --------------------------------------------------------------------------- responses


def test_render_response_mints_id_and_renders_every_part() -> None:
    resp = ir.Response(
        id="chatcmpl-1",
        model="",
        content=(
            ir.ThinkingPart("plan", signature=None),
            ir.ThinkingPart("", encrypted="opaque", redacted=True),
            ir.TextPart("hi"),
            ir.ToolCallPart("call_1", "apply_patch", '{"input":"*** Begin Patch"}', kind="custom"),
            ir.ToolCallPart("call_2", "Bash", "{not json"),
        ),
        stop_reason="tool_use",
        usage=ir.Usage(10, 20, 3, 4, reasoning_tokens=5),
    )
    out = am.render_response(resp, REQ)
    msg = Message.model_validate(out)
    assert re.fullmatch(r"msg_[0-9a-f]{24}", msg.id) and msg.model == "test-model"
    assert out["content"] == [
        {"type": "thinking", "thinking": "plan", "signature": ""},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "call_1", "name": "apply_patch", "input": {"input": "*** Begin Patch"}},
        {"type": "tool_use", "id": "call_2", "name": "Bash", "input": {}},
    ]
    assert out["usage"] == {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_creation_input_tokens": 4,
        "cache_read_input_tokens": 3,
        "output_tokens_details": {"thinking_tokens": 5},
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_parse_response_round_trips_golden(scenario: str) -> None:
    body = orjson.loads(goldens.wire_path(scenario, "anthropic_messages.response.json").read_bytes())
    assert am.parse_response(body) == compact_args(ir.accumulate(goldens.load_events(scenario)))


def compact_args(resp: ir.Response) -> ir.Response:
    """Tool arguments as the wire carries them (a JSON object; whitespace is not kept)."""
    content = tuple(
        dataclasses.replace(p, arguments=orjson.dumps(p.parsed_arguments()).decode())
        if isinstance(p, ir.ToolCallPart)
        else p
        for p in resp.content
    )
    return dataclasses.replace(resp, content=content)


def test_parse_response_drops_server_blocks_and_tolerates_junk() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "model": "claude",
        "content": [
            {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
            {"type": "text", "text": "a", "citations": []},
            "junk",
            {"type": "tool_use", "id": "t", "name": "X", "input": "not an object"},
            {"type": "redacted_thinking", "data": "d"},
        ],
        "stop_reason": "pause_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2, "output_tokens_details": {"thinking_tokens": 1}},
    }
    resp = am.parse_response(body)
    assert resp.content == (
        ir.TextPart("a"),
        ir.ToolCallPart("t", "X", "{}"),
        ir.ThinkingPart("", encrypted="d", redacted=True),
    )
    assert resp.stop_reason == "pause_turn" and resp.usage == ir.Usage(1, 2, reasoning_tokens=1)


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ([], errors.UpstreamError),
        ({"type": "message"}, errors.UpstreamError),
        ({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, errors.Overloaded),
    ],
)
def test_parse_response_rejects_non_messages(body: Any, cls: type[errors.ProxyError]) -> None:
    with pytest.raises(cls):
        am.parse_response(body)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("err", "status", "body"),
    [
        (errors.InvalidRequest("bad", param="x"), 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}),
        (errors.Overloaded("busy"), 529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        (errors.UpstreamTimeout("slow"), 504, {"type": "error", "error": {"type": "timeout_error", "message": "slow"}}),
        (errors.RequestTooLarge("big"), 413, {"type": "error", "error": {"type": "request_too_large", "message": "big"}}),
        (errors.ClientGone("gone"), 499, {"type": "error", "error": {"type": "api_error", "message": "gone"}}),
    ],
)  # fmt: skip
def test_render_error(err: errors.ProxyError, status: int, body: dict[str, Any]) -> None:
    assert am.render_error(err) == body and err.status == status


@pytest.mark.parametrize(
    ("status", "kind", "cls"),
    [
        (400, "invalid_request_error", errors.InvalidRequest),
        (401, "authentication_error", errors.AuthenticationFailed),
        (403, "permission_error", errors.PermissionDenied),
        (404, "not_found_error", errors.NotFound),
        (429, "rate_limit_error", errors.RateLimited),
        (500, "api_error", errors.UpstreamError),
        (529, "overloaded_error", errors.Overloaded),
    ],
)
def test_sdk_maps_our_error_bodies(status: int, kind: str, cls: type[errors.ProxyError]) -> None:
    """Our rendered errors reach SDK users as the SDK's own exception classes, and
    parse_error reads them back into the same ProxyError class."""
    body = orjson.dumps(am.render_error(cls("nope")))
    client = sdk_client(lambda request: httpx2.Response(status, content=body, headers={"content-type": "application/json"}))
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status and info.value.body["error"]["type"] == kind  # type: ignore[index]
    back = am.parse_error(status, body)
    assert type(back) is cls and back.message == "nope"


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', errors.Overloaded, "Overloaded"),
        (500, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', errors.Overloaded, "Overloaded"),
        (400, b'{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}', errors.ContextLengthExceeded, "prompt is too long: 210000 tokens > 200000 maximum"),
        (429, b'{"error":{"message":"slow down"}}', errors.RateLimited, "slow down"),
        (502, b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>", errors.UpstreamError, "502 Bad Gateway"),
        (503, b"<html><body>  <p>Service\n unavailable</p></body></html>", errors.Overloaded, "Service unavailable"),
        (500, b"", errors.UpstreamError, "HTTP 500"),
        (401, b"null", errors.AuthenticationFailed, "HTTP 401"),
        (418, b'{"message":"teapot"}', errors.UpstreamError, "upstream answered HTTP 418: teapot"),
        (400, b"x" * 5000, errors.InvalidRequest, "x" * 197 + "..."),
        (500, b'{"type":"error","error":"plain string"}', errors.UpstreamError, "plain string"),
    ],
)  # fmt: skip
def test_parse_error(status: int, body: bytes, cls: type[errors.ProxyError], message: str) -> None:
    err = am.parse_error(status, body)
    assert type(err) is cls and err.message == message


def test_parse_error_retryable_flags() -> None:
    assert am.parse_error(529, b'{"error":{"type":"overloaded_error","message":"o"}}').retryable
    assert am.parse_error(429, b'{"error":{"type":"rate_limit_error","message":"r"}}').retryable
    assert not am.parse_error(400, b'{"error":{"type":"invalid_request_error","message":"i"}}').retryable


# --------------------------------------------------------------------------- fuzz upstream input

from hypothesis import (  # noqa: E402
    HealthCheck,
    given,
    settings,
    strategies as st,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
EVENT_TYPES = st.sampled_from(
    ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
     "message_stop", "ping", "error", "other"]
)  # fmt: skip
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(-1, 3) | JSON,
        "message": st.fixed_dictionaries({}, optional={"id": JSON, "model": JSON, "usage": JSON}) | JSON,
        "content_block": st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "thinking", "redacted_thinking", "tool_use", "server_tool_use"]) | JSON},
            optional={"text": JSON, "thinking": JSON, "signature": JSON, "data": JSON, "id": JSON, "name": JSON, "input": JSON},
        ),
        "delta": st.fixed_dictionaries(
            {"type": st.sampled_from(["text_delta", "thinking_delta", "signature_delta", "input_json_delta"]) | JSON},
            optional={"text": JSON, "thinking": JSON, "signature": JSON, "partial_json": JSON, "stop_reason": JSON},
        ),
        "usage": JSON,
        "error": JSON,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(EVENT_TYPES, FIELDS), max_size=12))
def test_stream_parser_only_raises_proxy_errors(events: list[tuple[str, dict[str, Any]]]) -> None:
    parser = am.StreamParser()
    out: list[ir.Event] = []
    try:
        for etype, fields in events:
            out += parser.feed(sse.SSEEvent(json.dumps({"type": etype, **fields}), etype))
        out += parser.finish()
    except errors.ProxyError:
        return
    # What it yields keeps the IR invariants well enough for the renderer and the SDK.
    ir.accumulate([e for e in out if not isinstance(e, ir.BlockStart) or e.index >= 0])
    sdk_fold(render_stream(out))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(JSON | st.fixed_dictionaries({"content": st.lists(FIELDS.map(lambda f: f.get("content_block", f)))}, optional={"usage": JSON, "stop_reason": JSON, "id": JSON}))
def test_parse_response_only_raises_proxy_errors(body: Any) -> None:
    try:
        resp = am.parse_response(body)
    except errors.ProxyError:
        return
    Message.model_validate(am.render_response(resp, REQ))
