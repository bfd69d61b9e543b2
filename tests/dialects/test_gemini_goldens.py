"""The shared golden cases through the Gemini dialect: every golden IR stream rendered as Gemini
chunks (validated and folded by the google-genai SDK, read back by our parser), and every golden
IR request from the other dialects rendered as a Gemini request the SDK's types accept and our
parser reads back with its conversation intact."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google.genai import _api_client, types as gt

import goldens
from lingma_proxy import errors, ir, sse
from lingma_proxy.dialects import gemini

try:  # the relay's semantic checks (features/validate.py)
    from lingma_proxy.features.validate import check as validate
except ImportError:  # pragma: no cover - the module arrives with issue #10's slice A2
    def validate(req: ir.Request, *, allow_local_images: bool = False) -> bool:
        return False

STREAMS = goldens.scenarios()
REQUESTS = sorted(p.name for p in goldens.GOLDEN.glob("req_*") if (p / "ir.json").exists())
SHOW = ir.Request(model="gemini-2.5-pro", messages=(), dialect="gemini", reasoning=ir.Reasoning(summary="auto"))


def _carried(resp: ir.Response) -> ir.Response:
    """What a Gemini answer can carry of a response: no stop sequence (Gemini says STOP), no
    cache-write count (folded into the prompt count), no redacted or encrypted reasoning."""
    parts = tuple(
        ir.ThinkingPart(p.text, signature=p.signature) if isinstance(p, ir.ThinkingPart)
        else ir.ToolCallPart(p.id, p.name, json.dumps(p.parsed_arguments())) if isinstance(p, ir.ToolCallPart)
        else p
        for p in resp.content
        if not (isinstance(p, ir.ThinkingPart) and (p.redacted or (not p.text and not p.signature)))
    )
    u = resp.usage
    stop: ir.StopReason = resp.stop_reason
    if stop in ("stop_sequence", "pause_turn"):
        stop = "end_turn"
    if stop == "end_turn" and any(isinstance(p, ir.ToolCallPart) for p in parts):
        stop = "tool_use"
    return ir.Response(
        resp.id, resp.model, parts, stop_reason=stop,
        usage=ir.Usage(u.input_tokens + u.cache_creation_input_tokens, u.output_tokens, u.cache_read_input_tokens, 0,
                       min(u.reasoning_tokens, u.output_tokens)),
    )


@pytest.mark.parametrize("scenario", STREAMS)
def test_golden_streams(scenario: str) -> None:
    events = goldens.load_events(scenario)
    whole = ir.accumulate(events)
    renderer = gemini.StreamRenderer(SHOW)
    frames = [f for ev in events for f in renderer.feed(ev)] + renderer.finish()
    chunks = list(_api_client.HttpResponse({}, httpx.Response(200, content=b"".join(frames))).segments())
    for chunk in chunks:
        gt.GenerateContentResponse.model_validate(chunk)
    text = "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"] if not p.get("thought"))
    assert text == whole.text()
    body = gemini.render_response(whole, SHOW)
    assert chunks[-1]["usageMetadata"] == body["usageMetadata"]
    # Read back by our upstream parser: the same response, as far as Gemini can carry it.
    decoder, parser = sse.SSEDecoder(), gemini.StreamParser()
    back = [e for f in frames for ev in decoder.feed(f) for e in parser.feed(ev)] + parser.finish()
    assert _carried(ir.accumulate(back)) == _carried(whole)
    assert _carried(gemini.parse_response(body)) == _carried(whole)


def _request(scenario: str) -> ir.Request:
    value = goldens.from_json(json.loads((goldens.GOLDEN / scenario / "ir.json").read_text()))
    assert isinstance(value, ir.Request)
    return value


@pytest.mark.parametrize("scenario", REQUESTS)
def test_golden_requests_render_for_a_gemini_upstream(scenario: str) -> None:
    req = _request(scenario)
    body = gemini.render_request(req)
    for content in body["contents"]:
        gt.Content.model_validate(content)
        assert content["parts"], "Gemini refuses empty parts"
    for tool in body.get("tools", []):
        gt.Tool.model_validate(tool)
    if "generationConfig" in body:
        gt.GenerationConfig.model_validate(body["generationConfig"])
    back = gemini.parse_request(body, model=req.model, stream=req.stream)
    # The conversation survives: texts, tool calls and the results that answer them.
    def calls(r: ir.Request) -> list[tuple[str, str, dict[str, Any]]]:
        return [(p.id, p.name, p.parsed_arguments()) for m in r.messages for p in m.content if isinstance(p, ir.ToolCallPart)]

    def results(r: ir.Request) -> list[tuple[str, str]]:
        return [(p.tool_call_id, p.text()) for m in r.messages for p in m.content if isinstance(p, ir.ToolResultPart)]

    assert calls(back) == calls(req)
    assert results(back) == results(req)
    assert [t.name for t in back.tools] == [t.name for t in req.tools]
    assert back.system_text() == req.system_text()
    images = [p for m in req.messages for p in m.content if isinstance(p, ir.ImagePart)]
    assert len([p for m in back.messages for p in m.content if isinstance(p, ir.ImagePart)]) == len(images)
    # The relay's checks give the same verdict on the request before and after the round trip.
    assert _verdict(back) == _verdict(req)


def _verdict(req: ir.Request) -> str:
    try:
        validate(req)
    except errors.InvalidRequest as exc:
        return exc.message.split(": ", 1)[1]  # the path before it differs by dialect
    return "ok"
