"""OpenAI Responses output: IR -> wire (stream and whole) against goldens, validated by the
official SDK types, and wire -> IR (StreamParser, parse_response) back to the same content.

Regenerate goldens with ``UPDATE_GOLDENS=1`` (then review the diff).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings, strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from goldens import GOLDEN, from_json, load_events, scenarios, wire_path
from lingma_proxy import errors, ir, sse
from lingma_proxy.dialects import openai_responses as R

EVENT = TypeAdapter(ResponseStreamEvent)
CREATED = 1_760_000_000
CUSTOM = "openai_responses_custom_tool"
PATCH = ('*** Begin Patch\n*** Update File: src/app.py\n@@ def main():\n-    print("hi")\n'
         '+    print("hello, \\"world\\"")\n*** End Patch\n')

REQ = ir.Request(model="test-model", messages=(ir.Message("user", (ir.TextPart("hi"),)),),
                 dialect=R.NAME)
CODEX_REQ = ir.Request(
    model="gpt-5.5",
    messages=(ir.Message("user", (ir.TextPart("fix the greeting"),)),),
    tools=(
        ir.Tool("exec_command", "Runs a command", {"type": "object", "properties": {
            "cmd": {"type": "string"}}, "required": ["cmd"]}, strict=False),
        ir.Tool("apply_patch", "Use the apply_patch tool to edit files.", kind="custom",
                format={"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}),
    ),
    tool_choice=ir.ToolChoice("auto"),
    parallel_tool_calls=True,
    stream=True,
    reasoning=ir.Reasoning(effort="medium", summary="auto"),
    dialect=R.NAME,
    extra={"store": False, "include": ["reasoning.encrypted_content"], "verbosity": "low",
           "prompt_cache_key": "019a-session"},
)


def all_cases() -> list[str]:
    return [*scenarios(), CUSTOM]


def case_events(case: str) -> list[ir.Event]:
    if case == CUSTOM:
        return from_json(json.loads((GOLDEN / CUSTOM / "ir_events.json").read_text()))
    return load_events(case)


def case_req(case: str) -> ir.Request:
    return CODEX_REQ if case == CUSTOM else REQ


def render_stream(events: list[ir.Event], req: ir.Request, rid: str | None = None) -> bytes:
    r = R.StreamRenderer(req, created_at=CREATED, response_id=rid)
    return b"".join(b for ev in events for b in r.feed(ev)) + b"".join(r.finish())


def frames(data: bytes) -> list[sse.SSEEvent]:
    dec = sse.SSEDecoder()
    return [f for f in dec.feed(data) + dec.finish() if f.comment is None]


def payloads(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(f.data) for f in frames(data)]


def check_golden(path: Path, data: bytes) -> None:
    if os.environ.get("UPDATE_GOLDENS"):
        path.write_bytes(data)
    assert path.exists(), f"missing golden {path}: run with UPDATE_GOLDENS=1"
    assert data == path.read_bytes()


def dump(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def rid_for(case: str) -> str | None:
    # The custom case starts with a resp_ id of its own, which must be reused.
    return None if case == CUSTOM else f"resp_{case}"


# --------------------------------------------------------------------------- goldens


@pytest.mark.parametrize("case", all_cases())
def test_stream_golden(case: str) -> None:
    data = render_stream(case_events(case), case_req(case), rid_for(case))
    check_golden(wire_path(case, "openai_responses.stream.sse"), data)


@pytest.mark.parametrize("case", all_cases())
def test_response_golden(case: str) -> None:
    resp = ir.accumulate(case_events(case))
    body = R.render_response(resp, case_req(case), created_at=CREATED, response_id=rid_for(case))
    check_golden(wire_path(case, "openai_responses.response.json"), dump(body))
    Response.model_validate(body)


@pytest.mark.parametrize("case", all_cases())
def test_stream_is_valid_for_the_sdk(case: str) -> None:
    data = render_stream(case_events(case), case_req(case), rid_for(case))
    events = payloads(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for f in frames(data):
        ev = EVENT.validate_json(f.data)
        assert ev.type == f.event
    assert events[0]["type"] == "response.created"
    assert events[0]["response"]["status"] == "in_progress"
    assert events[1]["type"] == "response.in_progress"
    last = events[-1]
    assert last["type"] in ("response.completed", "response.incomplete")
    final = Response.model_validate(last["response"])
    # The streamed final object is exactly the non-streaming answer.
    resp = ir.accumulate(case_events(case))
    assert last["response"] == R.render_response(
        resp, case_req(case), created_at=CREATED, response_id=rid_for(case)
    )
    assert final.usage is not None
    assert final.usage.input_tokens == resp.usage.total_input_tokens
    # output_index counts items from 0, in the order items were added
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == list(range(len(final.output)))


def _comparable(resp: ir.Response) -> ir.Response:
    """What survives a Responses round trip: no Anthropic signatures, no stop sequences,
    no item ids (the IR stream has no place for them)."""
    parts: list[ir.Part] = []
    for p in resp.content:
        if isinstance(p, ir.ThinkingPart):
            p = ir.ThinkingPart(p.text, encrypted=p.encrypted)
        elif isinstance(p, ir.ToolCallPart):
            p = ir.ToolCallPart(p.id, p.name, p.arguments, p.kind)
        parts.append(p)
    stop = "end_turn" if resp.stop_reason == "stop_sequence" else resp.stop_reason
    return ir.Response("", "", tuple(parts), stop, None, resp.usage)


def _expected_roundtrip(case: str) -> ir.Response:
    resp = _comparable(ir.accumulate(case_events(case)))
    if case != CUSTOM:
        return resp
    # the call without an id got a minted one; the custom call reads back as {"input": ...}
    parts = list(resp.content)
    parts[2] = ir.ToolCallPart("call_patch_1", "apply_patch",
                               json.dumps({"input": PATCH}, separators=(",", ":")), "custom")
    parts[3] = ir.ToolCallPart("call_custom01_3", "exec_command", '{"cmd":"pytest -q"}')
    return ir.Response("", "", tuple(parts), resp.stop_reason, None, resp.usage)


@pytest.mark.parametrize("case", all_cases())
def test_stream_parser_reads_the_golden_back(case: str) -> None:
    data = wire_path(case, "openai_responses.stream.sse").read_bytes()
    parser = R.StreamParser()
    dec = sse.SSEDecoder()
    got: list[ir.Event] = []
    for i in range(0, len(data), 37):  # arbitrary chunk boundaries
        for f in dec.feed(data[i:i + 37]):
            got += parser.feed(f)
    for f in dec.finish():
        got += parser.feed(f)
    got += parser.finish()
    assert isinstance(got[0], ir.MessageStart) and isinstance(got[-1], ir.MessageStop)
    _check_block_invariants(got)
    assert _comparable(ir.accumulate(got)) == _expected_roundtrip(case)
    assert ir.accumulate(got).id.startswith("resp_")


@pytest.mark.parametrize("case", all_cases())
def test_parse_response_reads_the_golden_back(case: str) -> None:
    body = json.loads(wire_path(case, "openai_responses.response.json").read_text())
    resp = R.parse_response(body)
    assert _comparable(resp) == _expected_roundtrip(case)
    assert resp.id == body["id"] and resp.model == body["model"]


def _check_block_invariants(events: list[ir.Event]) -> None:
    open_index: int | None = None
    expected = 0
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            assert open_index is None and ev.index == expected
            open_index, expected = ev.index, expected + 1
        elif isinstance(ev, ir.BlockStop):
            assert ev.index == open_index
            open_index = None
        elif isinstance(ev, (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta, ir.SignatureDelta)):
            assert ev.index == open_index
    assert open_index is None


# --------------------------------------------------------------------------- tool calls


def _call_ids_by_item(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}

    def note(item: dict[str, Any]) -> None:
        if item.get("type") in ("function_call", "custom_tool_call"):
            seen.setdefault(item["id"], set()).add(item["call_id"])

    for e in events:
        if "item" in e:
            note(e["item"])
        if "response" in e:
            for item in e["response"]["output"]:
                note(item)
    return seen


@pytest.mark.parametrize("case", ["tool_call_single", "text_then_parallel_tools", CUSTOM])
def test_call_id_is_identical_in_every_event(case: str) -> None:
    events = payloads(render_stream(case_events(case), case_req(case), rid_for(case)))
    ir_ids = [ev.id for ev in case_events(case)
              if isinstance(ev, ir.BlockStart) and ev.kind == "tool_call"]
    by_item = _call_ids_by_item(events)
    assert len(by_item) == len(ir_ids)
    call_ids = []
    for item_id, ids in by_item.items():
        assert len(ids) == 1, f"{item_id} changed call_id: {ids}"
        (cid,) = ids
        assert cid
        call_ids.append(cid)
        # every argument event names the same item
        n = sum(1 for e in events if e.get("item_id") == item_id)
        assert n >= 1
    # IR call ids verbatim; a blank one minted once
    assert [c if i else "" for c, i in zip(call_ids, ir_ids, strict=True)] == ir_ids


def test_custom_tool_call_is_emitted_as_custom_tool_call() -> None:
    events = payloads(render_stream(case_events(CUSTOM), CODEX_REQ))
    types = [e["type"] for e in events]
    assert "response.custom_tool_call_input.delta" in types
    delta = next(e for e in events if e["type"] == "response.custom_tool_call_input.delta")
    done = next(e for e in events if e["type"] == "response.custom_tool_call_input.done")
    assert delta["delta"] == done["input"] == PATCH
    final = events[-1]["response"]
    assert [o["type"] for o in final["output"]] == [
        "reasoning", "message", "custom_tool_call", "function_call"]
    assert final["output"][2]["input"] == PATCH
    assert final["output"][0]["encrypted_content"] == "gAAAAABo-encrypted-blob=="
    assert final["id"] == "resp_custom01"
    assert final["usage"]["input_tokens"] == 20000
    assert final["usage"]["input_tokens_details"]["cached_tokens"] == 18000
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 40
    assert [t["type"] for t in final["tools"]] == ["function", "custom"]


def test_function_call_to_a_custom_tool_becomes_custom_tool_call() -> None:
    # a Chat backend calls apply_patch as a function with {"input": ...}
    evs = [ir.MessageStart("x", "m"),
           ir.BlockStart(0, "tool_call", id="call_9", name="apply_patch"),
           ir.ToolArgsDelta(0, '{"input":'), ir.ToolArgsDelta(0, json.dumps(PATCH) + "}"),
           ir.BlockStop(0), ir.MessageDelta("tool_use"), ir.MessageStop()]
    events = payloads(render_stream(evs, CODEX_REQ, "resp_t"))
    item = events[-1]["response"]["output"][0]
    assert item == {"id": "ctc_t_0", "type": "custom_tool_call", "call_id": "call_9",
                    "name": "apply_patch", "input": PATCH}
    assert "response.function_call_arguments.delta" not in [e["type"] for e in events]
    body = R.render_response(ir.accumulate(evs), CODEX_REQ, response_id="resp_t")
    assert body["output"][0] == item


@pytest.mark.parametrize(("arguments", "expected"), [
    ('{"input": "raw"}', "raw"),
    ('{"patch": "via another key"}', "via another key"),  # models offered a function rename it
    ("*** Begin Patch (not JSON)", "*** Begin Patch (not JSON)"),
    ('{"a": "x", "b": "y"}', '{"a": "x", "b": "y"}'),
    ("", ""),
])
def test_custom_input_decoding(arguments: str, expected: str) -> None:
    resp = ir.Response("r", "m", (ir.ToolCallPart("c1", "apply_patch", arguments, "custom"),))
    assert R.render_response(resp, REQ)["output"][0]["input"] == expected


# --------------------------------------------------------------------------- details


def test_encrypted_content_only_when_asked() -> None:
    evs = case_events(CUSTOM)
    plain = ir.Request(model="m", messages=(), tools=CODEX_REQ.tools, dialect=R.NAME)
    for data in (render_stream(evs, plain),
                 orjson.dumps(R.render_response(ir.accumulate(evs), plain))):
        assert b"encrypted_content" not in data
    assert b"gAAAAABo-encrypted-blob==" in render_stream(evs, CODEX_REQ)


def test_ids_reused_or_minted() -> None:
    evs = load_events("text_simple")  # IR id msg_01: not a Responses id
    a = payloads(render_stream(evs, REQ))[-1]["response"]["id"]
    b = payloads(render_stream(evs, REQ))[-1]["response"]["id"]
    assert re.fullmatch(r"resp_[0-9a-f]{32}", a) and a != b
    r = R.StreamRenderer(REQ)
    r.feed(ir.MessageStart("resp_upstream7", "m"))
    assert r.response_id == "resp_upstream7"
    body = R.render_response(ir.Response("resp_up", "m", ()), REQ)
    assert body["id"] == "resp_up" and body["created_at"] > 1_700_000_000


def test_ping_is_an_sse_comment() -> None:
    r = R.StreamRenderer(REQ)
    assert r.feed(ir.Ping()) == [b": ping\n\n"]
    r.feed(ir.MessageStart("resp_1", "m"))
    assert r.feed(ir.Ping()) == [b": ping\n\n"]


@pytest.mark.parametrize(("kind", "code"), [
    ("api_error", "server_error"),
    ("overloaded_error", "server_error"),
    ("rate_limit_error", "rate_limit_exceeded"),
    ("invalid_request_error", "invalid_prompt"),
])
def test_stream_error_is_response_failed(kind: str, code: str) -> None:
    r = R.StreamRenderer(REQ, created_at=CREATED, response_id="resp_e")
    out = r.feed(ir.MessageStart("x", "m"))
    out += r.feed(ir.BlockStart(0, "text")) + r.feed(ir.TextDelta(0, "par"))
    out += r.feed(ir.StreamError(kind, "upstream dropped", 502))
    out += r.feed(ir.TextDelta(0, "late")) + r.finish()
    events = payloads(b"".join(out))
    for e in events:
        EVENT.validate_python(e)
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == code and failed["error"]["message"] == "upstream dropped"
    assert events[-2]["error"]["code"] == code  # what the openai SDK raises on
    Response.model_validate(failed)


def test_error_before_start_still_frames_a_response() -> None:
    r = R.StreamRenderer(REQ)
    events = payloads(b"".join(r.feed(ir.StreamError("api_error", "boom"))))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "error", "response.failed"]


def test_finish_without_message_stop_completes_the_response() -> None:
    r = R.StreamRenderer(REQ, created_at=CREATED, response_id="resp_f")
    out = r.feed(ir.MessageStart("x", "m"))
    out += r.feed(ir.BlockStart(0, "tool_call", id="call_1", name="Bash"))
    out += r.feed(ir.ToolArgsDelta(0, '{"command":"ls"}'))
    out += r.finish()
    events = payloads(b"".join(out))
    assert [e["type"] for e in events][-3:] == [
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    assert events[-1]["response"]["output"][0]["call_id"] == "call_1"
    assert r.finish() == [] and r.feed(ir.MessageStop()) == []
    assert r.response is not None and r.response["status"] == "completed"


def test_finish_with_nothing_fed() -> None:
    events = payloads(b"".join(R.StreamRenderer(REQ).finish()))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "response.completed"]
    assert events[-1]["response"]["output"] == []


def test_empty_text_block_leaves_no_message() -> None:
    evs = [ir.MessageStart("x", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, ""),
           ir.BlockStop(0), ir.BlockStart(1, "text"), ir.TextDelta(1, "hi"), ir.BlockStop(1),
           ir.MessageDelta("end_turn"), ir.MessageStop()]
    events = payloads(render_stream(evs, REQ, "resp_e"))
    out = events[-1]["response"]["output"]
    assert len(out) == 1 and out[0]["content"][0]["text"] == "hi"
    assert out[0]["id"] == "msg_e_0"


def test_max_tokens_is_incomplete() -> None:
    events = payloads(render_stream(load_events("max_tokens"), REQ, "resp_m"))
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["status"] == "incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_request_options_are_echoed() -> None:
    req = ir.Request(model="m", messages=(), max_tokens=100, temperature=0.2, top_p=0.9,
                     tool_choice=ir.ToolChoice("tool", "apply_patch"),
                     tools=CODEX_REQ.tools, parallel_tool_calls=False,
                     reasoning=ir.Reasoning(enabled=False),
                     response_format={"type": "json_schema", "json_schema": {
                         "name": "x", "schema": {"type": "object"}}},
                     metadata={"k": "v"}, extra={"store": False})
    body = R.render_response(ir.Response("r", "", ()), req, created_at=1)
    Response.model_validate(body)
    assert body["tool_choice"] == {"type": "custom", "name": "apply_patch"}
    assert body["parallel_tool_calls"] is False and body["store"] is False
    assert body["reasoning"] == {"effort": "none", "summary": None}
    assert body["text"]["format"] == {"type": "json_schema", "name": "x",
                                      "schema": {"type": "object"}}
    assert (body["max_output_tokens"], body["temperature"], body["top_p"]) == (100, 0.2, 0.9)
    assert body["metadata"] == {"k": "v"} and body["model"] == "m"


# --------------------------------------------------------------------------- upstream side


def _sse(*events: dict[str, Any]) -> list[sse.SSEEvent]:
    return [sse.SSEEvent(data=orjson.dumps(e).decode(), event=e.get("type")) for e in events]


def _parse(events: list[sse.SSEEvent]) -> list[ir.Event]:
    p = R.StreamParser()
    out = [ev for f in events for ev in p.feed(f)]
    return out + p.finish()


def test_stream_parser_done_only_upstream() -> None:
    # some servers send whole items in output_item.done and no deltas
    resp = {"id": "resp_u", "model": "m", "output": []}
    got = _parse(_sse(
        {"type": "response.created", "response": resp},
        {"type": "response.output_item.done", "output_index": 0, "item": {
            "type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "t"}],
            "encrypted_content": "enc"}},
        {"type": "response.output_item.done", "output_index": 1, "item": {
            "type": "message", "id": "m1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "hello", "annotations": []}]}},
        {"type": "response.output_item.done", "output_index": 2, "item": {
            "type": "custom_tool_call", "id": "c1", "call_id": "call_c", "name": "apply_patch",
            "input": PATCH}},
        {"type": "response.web_search_call.completed", "output_index": 3, "item_id": "ws"},
        {"type": "response.completed", "response": {**resp, "status": "completed", "usage": {
            "input_tokens": 50, "input_tokens_details": {"cached_tokens": 20},
            "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 55}}},
    ))
    _check_block_invariants(got)
    resp_ir = ir.accumulate(got)
    assert resp_ir.content == (
        ir.ThinkingPart("t", encrypted="enc"), ir.TextPart("hello"),
        ir.ToolCallPart("call_c", "apply_patch", R.response.custom_arguments(PATCH), "custom"))
    assert resp_ir.stop_reason == "tool_use"
    assert resp_ir.usage == ir.Usage(30, 5, 20, 0, 2)


def test_stream_parser_custom_input_deltas_make_valid_json() -> None:
    pieces = ['*** Begin "', "Patch\\\n", "é\x01"]
    item = {"type": "custom_tool_call", "id": "c1", "call_id": "call_c", "name": "apply_patch",
            "input": ""}
    got = _parse(_sse(
        {"type": "response.created", "response": {"id": "resp_u", "model": "m"}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        *[{"type": "response.custom_tool_call_input.delta", "output_index": 0, "item_id": "c1",
           "delta": p} for p in pieces],
        {"type": "response.output_item.done", "output_index": 0,
         "item": {**item, "input": "".join(pieces)}},
        {"type": "response.completed", "response": {"id": "resp_u", "status": "completed"}},
    ))
    (call,) = ir.accumulate(got).tool_calls()
    assert call.parsed_arguments() == {"input": "".join(pieces)} and call.kind == "custom"


@pytest.mark.parametrize(("event", "cls"), [
    ({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}, errors.RateLimited),
    ({"type": "error", "error": {"code": "context_length_exceeded", "message": "too long"}},
     errors.ContextLengthExceeded),
    ({"type": "response.failed", "response": {"status": "failed", "error": {
        "code": "server_error", "message": "oops"}}}, errors.UpstreamError),
    ({"type": "response.failed", "response": {"status": "failed", "error": {
        "code": "invalid_prompt", "message": "bad"}}}, errors.InvalidRequest),
])
def test_stream_parser_errors_raise(event: dict[str, Any], cls: type[errors.ProxyError]) -> None:
    p = R.StreamParser()
    p.feed(_sse({"type": "response.created", "response": {"id": "resp_u"}})[0])
    with pytest.raises(cls) as info:
        p.feed(_sse(event)[0])
    assert info.value.message in ("slow down", "too long", "oops", "bad")


def test_stream_parser_truncated_or_garbage() -> None:
    p = R.StreamParser()
    p.feed(_sse({"type": "response.created", "response": {"id": "resp_u"}})[0])
    with pytest.raises(errors.UpstreamError):
        p.finish()
    with pytest.raises(errors.UpstreamError):
        R.StreamParser().feed(sse.SSEEvent(data="{not json"))
    assert R.StreamParser().feed(sse.SSEEvent(comment="keep-alive")) == []
    assert R.StreamParser().feed(sse.SSEEvent(data="[DONE]")) == []


def test_parse_response_failed_and_malformed() -> None:
    with pytest.raises(errors.RateLimited):
        R.parse_response({"status": "failed", "error": {"code": "rate_limit_exceeded",
                                                       "message": "x"}})
    with pytest.raises(errors.UpstreamError):
        R.parse_response([1, 2])
    resp = R.parse_response({"id": "resp_1", "output": [1, {"type": "mcp_call"}],
                             "status": "incomplete",
                             "incomplete_details": {"reason": "max_output_tokens"}})
    assert resp.content == () and resp.stop_reason == "max_tokens"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("err", "expected"), [
    (errors.InvalidRequest("bad field", param="input[2].call_id"),
     {"message": "bad field", "type": "invalid_request_error", "param": "input[2].call_id",
      "code": None}),
    (errors.ContextLengthExceeded("too long"),
     {"message": "too long", "type": "invalid_request_error", "param": None,
      "code": "context_length_exceeded"}),
    (errors.RateLimited("slow"),
     {"message": "slow", "type": "rate_limit_error", "param": None,
      "code": "rate_limit_exceeded"}),
    (errors.AuthenticationFailed("no key"),
     {"message": "no key", "type": "authentication_error", "param": None, "code": None}),
    (errors.NotFound("nope", param="previous_response_id"),
     {"message": "nope", "type": "invalid_request_error", "param": "previous_response_id",
      "code": "not_found"}),
    (errors.UpstreamTimeout("slow upstream"),
     {"message": "slow upstream", "type": "server_error", "param": None, "code": None}),
])
def test_render_error(err: errors.ProxyError, expected: dict[str, Any]) -> None:
    assert R.render_error(err) == {"error": expected}


@pytest.mark.parametrize(("status", "body", "cls", "message"), [
    (400, {"error": {"message": "bad input", "type": "invalid_request_error",
                     "param": "input", "code": None}}, errors.InvalidRequest, "bad input"),
    (400, {"error": {"message": "ctx", "code": "context_length_exceeded"}},
     errors.ContextLengthExceeded, "ctx"),
    (401, b'{"error": {"message": "bad key"}}', errors.AuthenticationFailed, "bad key"),
    (429, {"error": "slow down"}, errors.RateLimited, "slow down"),
    (500, b"<html>oops</html>", errors.UpstreamError, "<html>oops</html>"),
    (503, None, errors.Overloaded, "HTTP 503"),
    (404, {"message": "no such model"}, errors.NotFound, "no such model"),
    (502, "", errors.UpstreamError, "HTTP 502"),
])
def test_parse_error(status: int, body: Any, cls: type[errors.ProxyError], message: str) -> None:
    err = R.parse_error(status, body)
    assert type(err) is cls and err.message == message


# --------------------------------------------------------------------------- fuzz

_EVENT_TYPES = st.sampled_from([
    "response.created", "response.output_item.added", "response.output_item.done",
    "response.output_text.delta", "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta", "response.reasoning_summary_text.delta",
    "response.reasoning_summary_part.added", "response.completed", "response.incomplete",
    "response.refusal.delta", "response.reasoning_text.delta",
])
_ITEM_WORDS = st.sampled_from(["message", "reasoning", "function_call", "custom_tool_call",
                               "web_search_call", "x", ""])
_LEAF = st.none() | st.booleans() | st.integers(-1, 3) | st.text(max_size=5) | _ITEM_WORDS
_KEYS = st.sampled_from(["type", "item", "output_index", "delta", "response", "id", "call_id",
                         "name", "arguments", "input", "summary", "content", "text", "usage",
                         "encrypted_content", "incomplete_details", "reason"])
_VALUE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(_KEYS, inner, max_size=5), max_leaves=20)
_UPSTREAM_EVENT = st.builds(lambda t, rest: {**rest, "type": t}, _EVENT_TYPES,
                            st.dictionaries(_KEYS, _VALUE, max_size=5))


@settings(max_examples=300, deadline=None)
@given(st.lists(_UPSTREAM_EVENT, max_size=12))
def test_stream_parser_survives_odd_upstreams(events: list[dict[str, Any]]) -> None:
    p = R.StreamParser()
    got: list[ir.Event] = []
    try:
        for f in _sse(*events):
            got += p.feed(f)
        got += p.finish()
    except errors.ProxyError:
        return
    _check_block_invariants(got)
    ir.accumulate(got)


@settings(max_examples=200, deadline=None)
@given(_VALUE)
def test_parse_response_survives_odd_bodies(body: Any) -> None:
    try:
        R.parse_response(body)
    except errors.ProxyError:
        pass
