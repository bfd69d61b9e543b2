"""Gemini responses, streams and errors: everything we render validated by the google-genai SDK
(``GenerateContentResponse.model_validate`` on every chunk, its own SSE reader on our bytes),
our stream folded the SDK's way equals our whole response, and parse(render(x)) == x."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import orjson
import pytest
from google.genai import _api_client, errors as gerrors, models, types as gt
from hypothesis import given, settings, strategies as st

from lingma_proxy import errors, ir, sse
from lingma_proxy.dialects import gemini

SHOW = ir.Request(model="gemini-2.5-pro", messages=(), dialect="gemini", reasoning=ir.Reasoning(summary="auto"))
HIDE = ir.Request(model="gemini-2.5-pro", messages=(), dialect="gemini")


def sdk_response(body: dict[str, Any]) -> gt.GenerateContentResponse:
    """What the SDK makes of one wire body (the path models.generate_content takes)."""
    converted = models._GenerateContentResponse_from_mldev(body, None, None)
    return gt.GenerateContentResponse._from_response(response=converted, kwargs={})


def sdk_chunks(frames: list[bytes]) -> list[dict[str, Any]]:
    """The SDK's own SSE reader over our bytes (HttpResponse.segments on an httpx response)."""
    raw = httpx.Response(200, content=b"".join(frames))
    return list(_api_client.HttpResponse({}, raw).segments())


def U(n_in: int = 0, n_out: int = 0, cached: int = 0, thoughts: int = 0) -> ir.Usage:
    return ir.Usage(input_tokens=n_in, output_tokens=n_out, cache_read_input_tokens=cached, reasoning_tokens=thoughts)


RESPONSES: dict[str, ir.Response] = {
    "text": ir.Response("r1", "gemini-2.5-pro", (ir.TextPart("Hello!"),), usage=U(10, 3)),
    "thinking": ir.Response("r2", "m", (ir.ThinkingPart("hmm", signature="c2ln"), ir.TextPart("42")),
                            usage=U(10, 30, thoughts=20)),
    "parallel tools": ir.Response("r3", "m", (ir.TextPart("checking"), ir.ToolCallPart("c1", "get_weather", '{"city":"Paris"}'),
                                              ir.ToolCallPart("c2", "get_weather", '{"city":"Rome"}')),
                                  stop_reason="tool_use", usage=U(5, 7, cached=100)),
    "signed call": ir.Response("r4", "m", (ir.ThinkingPart("", signature="czI="), ir.ToolCallPart("c1", "clock", "{}")),
                               stop_reason="tool_use", usage=U(1, 1)),
    "max tokens": ir.Response("r5", "m", (ir.TextPart("cut"),), stop_reason="max_tokens", usage=U(1, 2)),
    "refusal": ir.Response("r6", "m", (), stop_reason="refusal", usage=U(4, 0)),
    "error": ir.Response("r7", "m", (ir.TextPart("x"),), stop_reason="error", usage=U(1, 1)),
    "nested args": ir.Response("r8", "m", (ir.ToolCallPart("c9", "f", '{"a":[1,{"b":null}],"s":"é"}'),),
                               stop_reason="tool_use"),
}


@pytest.mark.parametrize("name", list(RESPONSES))
def test_response_round_trip_and_sdk(name: str) -> None:
    resp = RESPONSES[name]
    body = gemini.render_response(resp, SHOW)
    gt.GenerateContentResponse.model_validate(body)
    parsed = sdk_response(body)
    assert parsed.candidates and parsed.candidates[0].finish_reason is not None
    assert gemini.parse_response(orjson.loads(orjson.dumps(body))) == resp


def test_sdk_reads_text_calls_thoughts_and_usage() -> None:
    got = sdk_response(gemini.render_response(RESPONSES["parallel tools"], SHOW))
    assert got.text == "checking"
    assert [(c.id, c.name, c.args) for c in got.function_calls or []] == [
        ("c1", "get_weather", {"city": "Paris"}), ("c2", "get_weather", {"city": "Rome"})]
    assert got.candidates is not None and got.candidates[0].finish_reason == gt.FinishReason.STOP
    u = got.usage_metadata
    assert u is not None
    assert (u.prompt_token_count, u.cached_content_token_count, u.candidates_token_count, u.total_token_count) == (105, 100, 7, 112)
    thought = sdk_response(gemini.render_response(RESPONSES["thinking"], SHOW))
    assert thought.text == "42"  # the SDK leaves thought parts out of .text
    assert thought.usage_metadata is not None and thought.usage_metadata.thoughts_token_count == 20
    assert thought.usage_metadata.candidates_token_count == 10


def test_thoughts_only_with_include_thoughts() -> None:
    hidden = gemini.render_response(RESPONSES["thinking"], HIDE)
    assert hidden["candidates"][0]["content"]["parts"] == [{"text": "42"}]
    # A signature-only block still rides on the part after it (Gemini 3 wants it back there).
    signed = gemini.render_response(RESPONSES["signed call"], HIDE)
    assert signed["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c1", "name": "clock", "args": {}}, "thoughtSignature": "czI="}]


@pytest.mark.parametrize(
    ("reason", "calls", "stop"),
    [("STOP", False, "end_turn"), ("STOP", True, "tool_use"), (None, False, "end_turn"), ("MAX_TOKENS", False, "max_tokens"),
     ("SAFETY", False, "refusal"), ("RECITATION", False, "refusal"), ("PROHIBITED_CONTENT", False, "refusal"),
     ("BLOCKLIST", False, "refusal"), ("SPII", False, "refusal"), ("MALFORMED_FUNCTION_CALL", False, "error"),
     ("OTHER", False, "error"), ("FINISH_REASON_UNSPECIFIED", False, "end_turn"), ("SOMETHING_NEW", False, "error")],
)
def test_finish_reasons_in(reason: str | None, calls: bool, stop: str) -> None:
    parts: list[dict[str, Any]] = [{"functionCall": {"name": "f", "args": {}}}] if calls else [{"text": "x"}]
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if reason:
        cand["finishReason"] = reason
    resp = gemini.parse_response({"candidates": [cand]})
    assert resp.stop_reason == stop
    if calls:
        assert resp.content[0].id.startswith("call_")  # type: ignore[union-attr]


def test_blocked_prompt_and_bad_bodies() -> None:
    assert gemini.parse_response({"promptFeedback": {"blockReason": "SAFETY"}}).stop_reason == "refusal"
    for bad in ([], "x", {"candidates": []}, {"candidates": "x"}):
        with pytest.raises(errors.UpstreamError):
            gemini.parse_response(bad)
    with pytest.raises(errors.RateLimited):
        gemini.parse_response({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})


# --------------------------------------------------------------------------- errors

ERRORS: list[tuple[errors.ProxyError, int, str]] = [
    (errors.InvalidRequest("bad", param="contents"), 400, "INVALID_ARGUMENT"),
    (errors.ContextLengthExceeded("too long"), 400, "INVALID_ARGUMENT"),
    (errors.AuthenticationFailed("who"), 401, "UNAUTHENTICATED"),
    (errors.PermissionDenied("no"), 403, "PERMISSION_DENIED"),
    (errors.NotFound("gone"), 404, "NOT_FOUND"),
    (errors.RequestTooLarge("big"), 413, "INVALID_ARGUMENT"),
    (errors.RateLimited("slow"), 429, "RESOURCE_EXHAUSTED"),
    (errors.UpstreamError("bad gateway"), 502, "INTERNAL"),
    (errors.UpstreamUnavailable("none"), 503, "UNAVAILABLE"),
    (errors.Overloaded("busy"), 529, "UNAVAILABLE"),
    (errors.UpstreamTimeout("slow"), 504, "DEADLINE_EXCEEDED"),
    (errors.ProxyError("oops"), 500, "INTERNAL"),
]


@pytest.mark.parametrize(("err", "code", "status"), ERRORS, ids=[type(e).__name__ for e, _, _ in ERRORS])
def test_render_error_and_sdk_reads_it(err: errors.ProxyError, code: int, status: str) -> None:
    body = gemini.render_error(err)
    assert body["error"]["code"] == err.status == code and body["error"]["status"] == status
    assert body["error"]["message"] == err.message
    with pytest.raises(gerrors.APIError) as info:
        gerrors.APIError.raise_error(code, body, None)
    assert info.value.code == code and info.value.status == status and info.value.message == err.message
    # And back: our parser of Google errors gets the same class.
    back = gemini.parse_error(code, orjson.dumps(body))
    assert isinstance(back, type(err)) or (type(err) is errors.UpstreamUnavailable and isinstance(back, errors.Overloaded))


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, b'{"error":{"code":400,"message":"The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}',
         errors.ContextLengthExceeded),
        (400, b'[{"error":{"code":400,"message":"x","status":"FAILED_PRECONDITION"}}]', errors.InvalidRequest),
        (403, b'{"error":{"code":403,"message":"x","status":"PERMISSION_DENIED"}}', errors.PermissionDenied),
        (503, b'{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}', errors.Overloaded),
        (500, b'{"error":{"code":500,"message":"x","status":"INTERNAL"}}', errors.UpstreamError),
        (502, b"<html><title>Bad Gateway</title></html>", errors.UpstreamError),
        (401, b"", errors.AuthenticationFailed),
        (404, b'{"error":{"code":404,"message":"models/x is not found"}}', errors.NotFound),
    ],
)
def test_parse_error(status: int, body: bytes, cls: type[errors.ProxyError]) -> None:
    err = gemini.parse_error(status, body)
    assert type(err) is cls
    assert "<" not in err.message


# --------------------------------------------------------------------------- count tokens, models


def test_count_tokens_and_models_shapes() -> None:
    assert gt.CountTokensResponse.model_validate(gemini.render_count_tokens(42)).total_tokens == 42
    listing = gemini.render_models([
        ir.ModelInfo("gemini-2.5-pro", display_name="Gemini 2.5 Pro", context_window=1048576, max_output_tokens=65536,
                     capabilities=("tools", "reasoning")),
        ir.ModelInfo("qwen3-coder"),
    ])
    converted = models._ListModelsResponse_from_mldev(listing, None, None)
    page = gt.ListModelsResponse._from_response(response=converted, kwargs={})
    assert page.models is not None
    first, second = page.models
    assert (first.name, first.display_name, first.input_token_limit, first.output_token_limit) == (
        "models/gemini-2.5-pro", "Gemini 2.5 Pro", 1048576, 65536)
    assert first.supported_actions == ["generateContent", "streamGenerateContent", "countTokens"]
    assert first.thinking is True and second.thinking is None and second.display_name == "qwen3-coder"


# --------------------------------------------------------------------------- streams


def _stream(resp: ir.Response, req: ir.Request, *, sse_mode: bool = True, split: bool = False) -> list[bytes]:
    events = ir.response_events(resp)
    if split:  # deltas in small pieces, as upstreams send them
        pieces: list[ir.Event] = []
        for ev in events:
            if isinstance(ev, ir.TextDelta):
                pieces += [ir.TextDelta(ev.index, ev.text[i:i + 2]) for i in range(0, len(ev.text), 2)]
            elif isinstance(ev, ir.ToolArgsDelta):
                pieces += [ir.ToolArgsDelta(ev.index, ev.fragment[i:i + 3]) for i in range(0, len(ev.fragment), 3)]
            elif isinstance(ev, ir.ThinkingDelta):
                pieces += [ir.ThinkingDelta(ev.index, ev.text[:1]), ir.Ping(), ir.ThinkingDelta(ev.index, ev.text[1:])]
            else:
                pieces.append(ev)
        events = pieces
    r = gemini.StreamRenderer(req, sse=sse_mode)
    frames = [f for ev in events for f in r.feed(ev)]
    return frames + r.finish()


def _fold(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold stream chunks the way SDK users do: concatenate texts, collect calls, keep last usage."""
    text = thought = ""
    calls: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    sigs: list[bytes] = []
    finish = usage = None
    for raw in chunks:
        chunk = gt.GenerateContentResponse.model_validate(raw)
        cand = (chunk.candidates or [None])[0]
        assert cand is not None and cand.content is not None
        for p in cand.content.parts or []:
            if p.thought_signature:
                sigs.append(p.thought_signature)
            if p.function_call:
                calls.append((p.function_call.id, p.function_call.name, p.function_call.args))
            elif p.thought:
                thought += p.text or ""
            else:
                text += p.text or ""
        finish = cand.finish_reason or finish
        usage = chunk.usage_metadata or usage
    return {"text": text, "thought": thought, "calls": calls, "sigs": sigs, "finish": finish, "usage": usage}


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("req", [SHOW, HIDE], ids=["thoughts", "no-thoughts"])
@pytest.mark.parametrize("name", list(RESPONSES))
def test_stream_folds_like_the_response(name: str, req: ir.Request, split: bool) -> None:
    resp = RESPONSES[name]
    frames = _stream(resp, req, split=split)
    chunks = sdk_chunks(frames)
    assert len(chunks) == sum(1 for f in frames if f.startswith(b"data: "))
    whole = gemini.render_response(resp, req)
    assert _fold(chunks) == _fold([whole])
    # Only the last chunk closes the turn, and it carries the usage.
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert chunks[-1]["usageMetadata"] == whole["usageMetadata"]
    assert {c["responseId"] for c in chunks} == {whole["responseId"]}


@pytest.mark.parametrize("name", list(RESPONSES))
def test_array_framing_is_one_json_array(name: str) -> None:
    frames = _stream(RESPONSES[name], SHOW, sse_mode=False, split=True)
    assert b"".join(frames).lstrip().startswith(b"[") and frames[-1].endswith(b"]")
    chunks = json.loads(b"".join(frames))
    assert _fold(chunks) == _fold(sdk_chunks(_stream(RESPONSES[name], SHOW)))
    assert b",\r\n{" in b"".join(frames) or len(chunks) == 1


@pytest.mark.parametrize("name", list(RESPONSES))
def test_stream_parser_round_trip(name: str) -> None:
    """Our chunks, read by our upstream parser, fold back into the response."""
    resp = RESPONSES[name]
    frames = _stream(resp, SHOW, split=True)
    decoder = sse.SSEDecoder()
    parser = gemini.StreamParser()
    events: list[ir.Event] = []
    for f in frames:
        for ev in decoder.feed(f):
            events += parser.feed(ev)
    for ev in decoder.finish():
        events += parser.feed(ev)
    events += parser.finish()
    check_invariants(events)
    got = ir.accumulate(events)
    assert got == resp


def test_stream_error_and_empty_streams() -> None:
    r = gemini.StreamRenderer(SHOW)
    frames = r.feed(ir.MessageStart("x", "m")) + r.feed(ir.BlockStart(0, "text")) + r.feed(ir.TextDelta(0, "part"))
    frames += r.feed(ir.StreamError("overloaded_error", "busy", 529)) + r.feed(ir.TextDelta(0, "late")) + r.finish()
    with pytest.raises(gerrors.APIError) as info:
        _sdk_error_check(frames)
    assert info.value.status == "UNAVAILABLE"
    array = gemini.StreamRenderer(SHOW, sse=False)
    out = array.feed(ir.TextDelta(0, "a")) + array.feed(ir.StreamError("api_error", "boom", 502))
    assert json.loads(b"".join(out))[-1]["error"]["status"] == "INTERNAL"
    # A stream with nothing in it still closes properly, in both framings.
    for mode in (True, False):
        empty = gemini.StreamRenderer(HIDE, sse=mode)
        done = empty.finish()
        chunks = sdk_chunks(done) if mode else json.loads(b"".join(done))
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
        assert empty.finish() == []


def _sdk_error_check(frames: list[bytes]) -> list[dict[str, Any]]:
    """What BaseApiClient.request_streamed does with each chunk: an error object raises."""
    out = []
    for chunk in sdk_chunks(frames):
        dump = json.dumps(chunk)
        if dump.startswith('{"error":'):
            gerrors.APIError.raise_error(chunk["error"]["code"], chunk, None)
        out.append(chunk)
    return out


def test_pings_are_harmless_to_the_sdk() -> None:
    r = gemini.StreamRenderer(HIDE)
    frames = r.feed(ir.Ping()) + r.feed(ir.TextDelta(0, "a")) + r.feed(ir.Ping()) + r.finish()
    assert frames[0] == b"\n"
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in sdk_chunks(frames)] == ["a", ""]
    array = gemini.StreamRenderer(HIDE, sse=False)
    frames = array.feed(ir.Ping()) + array.feed(ir.TextDelta(0, "a")) + array.feed(ir.Ping()) + array.finish()
    assert len(json.loads(b"".join(frames))) == 2


def test_stream_parser_errors() -> None:
    p = gemini.StreamParser()
    with pytest.raises(errors.UpstreamError):
        p.finish()
    p = gemini.StreamParser()
    p.feed(sse.SSEEvent(data='{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}'))
    with pytest.raises(errors.UpstreamError, match="finishReason"):
        p.finish()
    with pytest.raises(errors.RateLimited):
        gemini.StreamParser().feed(sse.SSEEvent(data='{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}'))
    for bad in ("not json", "[1]"):
        with pytest.raises(errors.UpstreamError):
            gemini.StreamParser().feed(sse.SSEEvent(data=bad))


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_parts = st.lists(
    st.one_of(
        st.builds(ir.TextPart, _text),
        st.builds(lambda t, s: ir.ThinkingPart(t, signature=s), _text, st.none() | st.just("c2ln")),
        st.builds(lambda n, a: ir.ToolCallPart(f"id_{n}", n, orjson.dumps({"a": a}).decode()), st.sampled_from("fgh"), _text),
    ),
    max_size=6,
)


@settings(max_examples=120, deadline=None)
@given(_parts, st.sampled_from(["end_turn", "max_tokens", "refusal", "error"]))
def test_generated_streams_fold_like_responses(parts: list[ir.Part], stop: ir.StopReason) -> None:
    # Adjacent parts of one kind merge on the wire, as they do in a Gemini stream.
    resp = ir.Response("rid", "m", tuple(parts), stop_reason="tool_use" if any(
        isinstance(p, ir.ToolCallPart) for p in parts) and stop == "end_turn" else stop, usage=U(3, 4))
    chunks = sdk_chunks(_stream(resp, SHOW, split=True))
    assert _fold(chunks) == _fold([gemini.render_response(resp, SHOW)])


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["candidates", "content", "parts", "text", "thought", "thoughtSignature", "functionCall",
                                         "name", "args", "id", "finishReason", "usageMetadata", "promptTokenCount",
                                         "error", "code", "status", "message"]), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_json, min_size=1, max_size=3))
def test_upstream_garbage_raises_only_proxy_errors(bodies: list[Any]) -> None:
    for body in bodies:
        try:
            gemini.parse_response(body)
        except errors.ProxyError:
            pass
    parser = gemini.StreamParser()
    try:
        events = [ev for b in bodies for ev in parser.feed(sse.SSEEvent(data=json.dumps(b)))] + parser.finish()
    except errors.ProxyError:
        return
    check_invariants(events)


def check_invariants(events: list[ir.Event]) -> None:
    """The IR's stream rules: blocks strictly sequential, gap-free from 0, deltas to the open one."""
    open_index: int | None = None
    expected = 0
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            assert open_index is None and ev.index == expected
            open_index, expected = ev.index, expected + 1
        elif isinstance(ev, (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta, ir.SignatureDelta)):
            assert ev.index == open_index
        elif isinstance(ev, ir.BlockStop):
            assert ev.index == open_index
            open_index = None
        elif isinstance(ev, ir.MessageDelta):
            assert open_index is None
    assert isinstance(events[0], ir.MessageStart) and isinstance(events[-1], ir.MessageStop)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
                 st.text(max_size=8).map(lambda t: base64.b64encode(b"lingma-proxy:sig:" + t.encode()).decode())))
def test_signatures_survive_every_client_re_encoding(sig: str) -> None:
    """Whatever the signature, the client may send it back as the Python SDK does (decoded,
    re-encoded URL-safe), as the JS SDK does (unchanged) or unpadded: it reads back the same."""
    from lingma_proxy.dialects.gemini.parts import sig_in, sig_out

    wire = sig_out(sig)
    raw = gt.Part.model_validate({"thoughtSignature": wire}).thought_signature
    assert raw is not None
    for echoed in (wire, base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")):
        assert sig_in(echoed) == sig
