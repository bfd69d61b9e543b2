"""The sans-I/O layers of the IPC backend: framing, the JSON-RPC core, prompts, models, turns."""

from __future__ import annotations

import json

import pytest

from lingma_proxy import errors, ir
from lingma_proxy.backends.lingma.ipc.framing import FrameDecoder, FramingError, encode
from lingma_proxy.backends.lingma.ipc.models import ModelMap, parse_models
from lingma_proxy.backends.lingma.ipc.prompt import CLOSING, build_prompt, latest_images
from lingma_proxy.backends.lingma.ipc.rpc import Call, Notice, Reply, RpcCore, route_of
from lingma_proxy.backends.lingma.ipc.turn import TurnState
from lingma_proxy.features import tokens
from lingma_proxy.features.tool_contract import inject_contract

BODIES = [b'{"jsonrpc":"2.0","id":1,"result":null}', '{"text":"héllo ✓ 你好"}'.encode(), b"{}"]
STREAM = b"".join(encode(b) for b in BODIES)


# ------------------------------------------------------------------------- framing


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_stream_split_at_every_position_yields_the_same_frames(cut: int) -> None:
    d = FrameDecoder()
    assert d.feed(STREAM[:cut]) + d.feed(STREAM[cut:]) == BODIES
    assert d.pending == 0


def test_frames_packed_into_one_message_and_fed_byte_by_byte() -> None:
    assert FrameDecoder().feed(STREAM) == BODIES
    d = FrameDecoder()
    assert [f for i in range(len(STREAM)) for f in d.feed(STREAM[i:i + 1])] == BODIES


def test_header_case_and_extra_headers_are_tolerated() -> None:
    raw = b"content-type: application/json\r\nCONTENT-LENGTH:  2\r\n\r\n{}"
    assert FrameDecoder().feed(raw) == [b"{}"]


@pytest.mark.parametrize(("raw", "message"), [
    (b"Content-Type: x\r\n\r\n{}", "without Content-Length"),
    (b"Content-Length: abc\r\n\r\n", "bad Content-Length"),
    (b"Content-Length: 99999999999\r\n\r\n", "exceeds"),
    (b"x" * 9000, "header too long"),
])
def test_broken_frames_raise(raw: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        FrameDecoder().feed(raw)


def test_a_bare_json_websocket_message_is_taken_whole_only_on_a_frame_boundary() -> None:
    d = FrameDecoder()
    assert d.feed_message(b' {"a":1}') == [b'{"a":1}']
    assert d.feed_message(b"Content-Length: 7\r\n\r\n{\"a\"") == []
    assert d.feed_message(b":1}") == [b'{"a":1}']


# ------------------------------------------------------------------------- rpc core


def test_requests_have_integer_ids_from_one_and_sorted_compact_json() -> None:
    core = RpcCore()
    rid, raw = core.request("initialize", {"protocolVersion": 1, "clientCapabilities": {}, "timestamp": 5})
    assert rid == 1
    assert raw == (b'Content-Length: 115\r\n\r\n{"id":1,"jsonrpc":"2.0","method":"initialize","params":'
                   b'{"clientCapabilities":{},"protocolVersion":1,"timestamp":5}}')
    assert core.request("config/queryModels")[0] == 2 and core.pending == {1: "initialize", 2: "config/queryModels"}


def test_incoming_messages_are_classified_and_odd_ones_tolerated() -> None:
    core = RpcCore()
    core.request("a")
    core.request("b")
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "result": {"ok": True}},
        {"jsonrpc": "2.0", "id": "2", "error": {"code": -32601, "message": "Method not found"}},  # string id
        {"jsonrpc": "2.0", "id": 77, "result": None},  # unknown id: dropped
        {"jsonrpc": "2.0", "id": 9001, "method": "session/request_permission", "params": {"sessionId": "s"}},
        {"jsonrpc": "2.0", "id": "x-1", "method": "fs/read_text_file", "params": ["odd"]},
        {"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s", "_meta": {
            "ai-coding/request-id": "r1"}, "update": {}}},
        {"jsonrpc": "2.0", "method": "session/update", "params": "not an object"},
    ]
    data = b"".join(encode(json.dumps(m).encode()) for m in msgs) + encode(b"not json") + encode(b"[1]")
    out = core.feed(data)
    assert out[0] == Reply(1, {"ok": True})
    assert isinstance(out[1], Reply) and out[1].error_message() == "Method not found (code -32601)"
    assert isinstance(out[2], Call) and out[2].answer.endswith(b'{"id":9001,"jsonrpc":"2.0","result":null}')
    assert isinstance(out[3], Call) and out[3].params == {} and b'"id":"x-1"' in out[3].answer
    assert out[4] == Notice("session/update", out[4].params, "r1", "s")  # type: ignore[union-attr]
    assert out[5] == Notice("session/update", {}, None, None)
    assert len(out) == 6 and core.pending == {}


@pytest.mark.parametrize(("params", "route"), [
    ({"_meta": {"ai-coding/request-id": "a"}}, "a"),
    ({"update": {"_meta": {"ai-coding/request-id": "b"}}}, "b"),
    ({"update": {"data": {"requestId": "c"}}}, "c"),
    ({"requestId": "d", "step": "step_end"}, "d"),
    ({"_meta": {"ai-coding/request-id": 5}}, None),
    ({}, None),
])
def test_route_of(params: dict, route: str | None) -> None:
    assert route_of(params) == route


# ------------------------------------------------------------------------- prompts


def user(*parts: ir.Part | str) -> ir.Message:
    return ir.Message("user", tuple(ir.TextPart(p) if isinstance(p, str) else p for p in parts))


def test_a_single_message_is_sent_raw() -> None:
    assert build_prompt(ir.Request("m", (user("Hi there"),))).text == "Hi there"


def test_the_transcript_as_the_reference_builds_it() -> None:
    req = ir.Request("m", (user("First question"), ir.Message("assistant", (ir.TextPart("First answer"),)),
                           user("Second question")), system=(ir.TextPart("You are terse."),))
    assert build_prompt(req).text == (
        "System instructions:\n\nYou are terse.\n\nConversation transcript:\n\nUser: First question\n\n"
        f"Assistant: First answer\n\nUser: Second question\n\n{CLOSING}")
    assert build_prompt(req, reuse=True).text == "Second question"
    hinted = build_prompt(ir.Request("m", req.messages, system=req.system, reasoning=ir.Reasoning(effort="high")))
    assert hinted.text.startswith("System instructions:\n\nReasoning mode is enabled. Take extra time to reason")
    assert "\n\nYou are terse.\n\nConversation transcript:" in hinted.text


def test_the_tool_layout_puts_the_contract_last() -> None:
    weather = ir.Tool("get_weather", "Get weather", {"type": "object", "properties": {"city": {"type": "string"}}})
    req = inject_contract(ir.Request("m", (
        user("Weather in Paris?"),
        ir.Message("assistant", (ir.ToolCallPart("call_1", "get_weather", '{"city":"Paris"}'),)),
        ir.Message("user", (ir.ToolResultPart("call_1", (ir.TextPart("Sunny, 21C"),)),)),
    ), tools=(weather,)))
    text = build_prompt(req).text
    assert text.startswith("User: Weather in Paris?\n\nAssistant: ```json action\n")
    assert '<tool_result call_id="call_1" tool="get_weather">\nSunny, 21C\n</tool_result>' in text
    assert text.index("</tool_result>") < text.index("# Tools") and text.endswith("\n\nAssistant:")


def test_images_and_the_missing_user_message() -> None:
    png = ir.ImagePart("image/png", data="iVBORw0KGgo=")
    req = ir.Request("m", (user("What is this?", png), ir.Message("assistant", (ir.TextPart("A cat"),)),
                           user("And its colour?")))
    assert latest_images(req) == (png,)  # the earlier image stays in play
    assert build_prompt(ir.Request("m", (user(png),))).text == "请描述这张图片的主要内容。"
    with pytest.raises(errors.InvalidRequest, match="no user message"):
        build_prompt(ir.Request("m", (ir.Message("assistant", (ir.TextPart("hi"),)),)))


# ------------------------------------------------------------------------- models


def test_query_models_is_walked_and_names_map_to_keys() -> None:
    result = {"assistant": [{"id": "kmodel", "name": "Kimi-K2.6"}, {"id": "dashscope_qwen3_coder", "name": "Qwen3-Coder"}],
              "developer": [{"id": "org_auto", "name": "Auto"}],
              "chat": {"list": [{"key": "mmodel", "displayName": "MiniMax-M2.7", "isReasoning": True},
                                {"modelId": "kmodel", "title": "dup"}, {"key": "x-no-name"}, "junk", 5]},
              "inline": [{"key": "inline_qwen_model", "displayName": "Inline"}]}
    models = parse_models(result)
    assert [(m.key, m.name, m.scene) for m in models] == [
        ("kmodel", "Kimi-K2.6", "assistant"), ("dashscope_qwen3_coder", "Qwen3-Coder", "assistant"),
        ("org_auto", "Auto", "developer"), ("mmodel", "MiniMax-M2.7", "chat"),
        ("inline_qwen_model", "Inline", "inline")]
    mm = ModelMap(models, "kmodel")
    assert [i.id for i in mm.infos("ipc")] == ["Kimi-K2.6", "Auto", "MiniMax-M2.7", "Qwen3-Coder"]
    assert mm.infos("ipc")[0].upstream_id == "kmodel"
    assert [mm.key_for(n) for n in ("Kimi-K2.6", "kimi-k2.6", "kmodel", "Qwen3-Max", "", "custom")] == [
        "kmodel", "kmodel", "kmodel", "dashscope_qwen_max_latest", "kmodel", "custom"]
    empty = ModelMap([])
    assert [i.id for i in empty.infos("ipc")] == ["lingma"] and empty.key_for("lingma") == ""


# ------------------------------------------------------------------------- turns


def upd(kind: str, text: str = "", **kw: object) -> dict:
    u: dict = {"sessionUpdate": kind, **kw}
    if text:
        u["content"] = {"type": "text", "text": text}
    return {"update": u}


def test_thought_chunks_become_thinking_only_when_asked_and_never_text() -> None:
    seq = [upd("agent_thought_chunk", "hmm"), upd("agent_message_chunk", "Hel"), upd("tool_call", toolCallId="t"),
           upd("agent_thought_chunk", "more"), upd("agent_message_chunk", "lo"),
           upd("notification", type="context_usage", data={"usedTokens": 50, "limitTokens": 1000}),
           upd("notification", type="chat_finish", data={"reason": "stop"}), upd("agent_message_chunk", "late")]
    for want in (True, False):
        st = TurnState(want)
        events = [e for p in seq for e in st.feed(p)]
        events += st.close(st.usage("prompt"))
        resp = ir.accumulate(events)
        kinds = [type(p).__name__ for p in resp.content]
        assert resp.text() == "Hello" and st.finished
        assert kinds == (["ThinkingPart", "TextPart", "ThinkingPart", "TextPart"] if want else ["TextPart"])
        assert resp.usage.input_tokens == 50 and st.limit_tokens == 1000


def test_usage_is_estimated_without_context_usage() -> None:
    st = TurnState(False)
    st.feed(upd("agent_message_chunk", "x" * 37))
    u = st.usage("y" * 370, images=1)
    assert (u.input_tokens, u.output_tokens) == (
        tokens.estimate_text("y" * 370) + tokens.IMAGE_TOKENS_DEFAULT, tokens.estimate_text("x" * 37))
