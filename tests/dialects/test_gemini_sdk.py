"""The official google-genai SDK as the client, end to end through the Gemini dialect, in process:
an httpx MockTransport plays the routes the server will have (parse the SDK's real request,
answer with a scripted IR response rendered by the dialect), so the SDK's own request building,
SSE reading, chat history and error raising all meet our code. No sockets: the routes
themselves arrive with the seams refactor of issue #11."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import httpx
import pytest
from google import genai
from google.genai import errors as gerrors, types as gt

from lingma_proxy import errors, ir
from lingma_proxy.dialects import gemini

try:  # the relay's semantic checks (features/validate.py), run after every parse
    from lingma_proxy.features.validate import check as validate
except ImportError:  # pragma: no cover - the module arrives with issue #10's slice A2
    def validate(req: ir.Request, *, allow_local_images: bool = False) -> bool:
        return False

Answer = Callable[[ir.Request], "ir.Response | list[ir.Event]"]
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
MODELS = [ir.ModelInfo("gemini-2.5-pro", display_name="Gemini 2.5 Pro", context_window=1048576, max_output_tokens=65536)]


class FakeRoutes:
    """What the server's Gemini routes will do, minus the relay: the key from x-goog-api-key or
    ?key=, the model and the method from the path, alt=sse for the framing."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[ir.Request] = []
        self.keys: list[str | None] = []
        self.versions: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("x-goog-api-key") or request.url.params.get("key"))
        # google-genai 1.x+ defaults to /v1/, Gemini CLI and older SDKs use /v1beta/: both are routes.
        version, _, path = request.url.path.lstrip("/").partition("/")
        if version not in ("v1", "v1beta"):
            return self._error(errors.NotFound(f"no route {request.url.path}"))
        self.versions.add(version)
        if request.method == "GET" and path == "models":
            return httpx.Response(200, json=gemini.render_models(MODELS))
        match = re.fullmatch(r"models/([^:/]+):(generateContent|streamGenerateContent|countTokens)", path)
        if match is None:
            return self._error(errors.NotFound(f"no route {request.url.path}"))
        model, method = match.groups()
        body = json.loads(request.content)
        try:
            if method == "countTokens":
                req = gemini.parse_count_tokens(body, model=model)
                words = sum(len(p.text.split()) for m in req.messages for p in m.content if isinstance(p, ir.TextPart))
                return httpx.Response(200, json=gemini.render_count_tokens(words))
            req = gemini.parse_request(body, model=model, stream=method == "streamGenerateContent")
            validate(req)
        except errors.ProxyError as exc:
            return self._error(exc)
        self.requests.append(req)
        answer = self.answer(req)
        events = answer if isinstance(answer, list) else ir.response_events(answer)
        if not req.stream:
            folded = ir.Accumulator()
            for ev in events:
                folded.feed(ev)
            if folded.error is not None:
                return self._error(errors.ProxyError(folded.error.message, status=folded.error.status))
            return httpx.Response(200, json=gemini.render_response(folded.response(), req))
        renderer = gemini.StreamRenderer(req, sse=request.url.params.get("alt") == "sse")
        frames = [f for ev in events for f in renderer.feed(ev)] + renderer.finish()
        return httpx.Response(200, content=b"".join(frames), headers={"content-type": "text/event-stream"})

    def _error(self, exc: errors.ProxyError) -> httpx.Response:
        return httpx.Response(exc.status, json=gemini.render_error(exc))


def client_for(routes: FakeRoutes, api_version: str | None = None) -> genai.Client:
    http = httpx.Client(transport=httpx.MockTransport(routes))
    options = gt.HttpOptions(base_url="http://gemini.test", httpx_client=http, api_version=api_version)
    return genai.Client(api_key="AIza-test-key", http_options=options)


def reply(*parts: ir.Part, stop: ir.StopReason = "end_turn") -> Answer:
    return lambda req: ir.Response("resp-1", req.model, parts, stop_reason=stop, usage=ir.Usage(11, 5))


WEATHER = gt.FunctionDeclaration(
    name="get_weather", description="Weather for a city",
    parameters=gt.Schema(type="OBJECT", properties={"city": gt.Schema(type="STRING")}, required=["city"]),
)
TOOLS = [gt.Tool(function_declarations=[WEATHER])]


@pytest.mark.parametrize("version", [None, "v1beta"])
def test_generate_content_text_and_image(version: str | None) -> None:
    routes = FakeRoutes(reply(ir.TextPart("A red square.")))
    client = client_for(routes, version)
    resp = client.models.generate_content(
        model="gemini-2.5-pro",
        contents=[gt.Part.from_text(text="What is this?"), gt.Part.from_bytes(data=PNG, mime_type="image/png")],
        config=gt.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2, max_output_tokens=64),
    )
    assert resp.text == "A red square."
    assert resp.usage_metadata is not None and resp.usage_metadata.prompt_token_count == 11
    req = routes.requests[0]
    assert routes.keys == ["AIza-test-key"] and routes.versions == {version or "v1"}
    assert (req.model, req.stream, req.system_text(), req.temperature, req.max_tokens) == ("gemini-2.5-pro", False, "Be brief.", 0.2, 64)
    assert req.messages[0].content[1] == ir.ImagePart("image/png", data=base64.b64encode(PNG).decode())


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_function_calls_and_the_tool_loop(stream: bool) -> None:
    calls = (ir.ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}'), ir.ToolCallPart("toolu_2", "get_weather", '{"city":"Rome"}'))
    answers = iter([reply(*calls, stop="tool_use"), reply(ir.TextPart("Sunny in both."))])
    routes = FakeRoutes(lambda req: next(answers)(req))
    chat = client_for(routes).chats.create(model="gemini-2.5-pro", config=gt.GenerateContentConfig(
        tools=TOOLS, tool_config=gt.ToolConfig(function_calling_config=gt.FunctionCallingConfig(mode="AUTO")),
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
    if stream:
        got = [c.function_calls for c in chat.send_message_stream("Weather in Paris and Rome?") if c.function_calls]
        fcs = [fc for batch in got for fc in batch]
    else:
        fcs = chat.send_message("Weather in Paris and Rome?").function_calls or []
    assert [(fc.id, fc.name, fc.args) for fc in fcs] == [("toolu_1", "get_weather", {"city": "Paris"}),
                                                        ("toolu_2", "get_weather", {"city": "Rome"})]
    # The answers go back without ids, the older API's way: they pair by name, in order.
    final = chat.send_message([gt.Part.from_function_response(name="get_weather", response={"output": "sunny"}),
                               gt.Part.from_function_response(name="get_weather", response={"output": "also sunny"})])
    assert final.text == "Sunny in both."
    second = routes.requests[1]
    assert second.tool_choice == ir.ToolChoice("auto")
    assert [m.role for m in second.messages] == ["user", "assistant", "user"]
    assert tuple(p for p in second.messages[1].content if isinstance(p, ir.ToolCallPart)) == calls
    assert [(r.tool_call_id, r.text()) for r in second.messages[2].content if isinstance(r, ir.ToolResultPart)] == [
        ("toolu_1", "sunny"), ("toolu_2", "also sunny")]


# Canonical base64 (one with + and /, which the Python SDK sends back URL-safe), another
# vendor's text, unpadded and URL-safe base64, non-ASCII.
SIGNATURES = ["RXh0ZW5kZWRTaWc=", base64.b64encode(b"\x12\xb5\x01\xfb\xff\xbf\x00sig").decode(), "sig-abc123",
              "c2lnLWFiYzEyMw", "a-b_", "EqQBCgIYAhIM+/==", "é"]


@pytest.mark.parametrize("signature", SIGNATURES)
def test_streamed_thinking_keeps_its_signature_across_turns(signature: str) -> None:
    """The SDK's chat stores a streamed answer as one content per chunk and re-encodes every
    signature as padded base64; the thinking and its signature (an Anthropic upstream needs
    both, byte-exact) still come back together and unchanged."""
    thinking = ir.ThinkingPart("Let me think about Paris.", signature=signature)
    answers = iter([reply(thinking, ir.ToolCallPart("toolu_9", "get_weather", '{"city":"Paris"}'), stop="tool_use"),
                    reply(ir.TextPart("Done."))])
    routes = FakeRoutes(lambda req: next(answers)(req))
    chat = client_for(routes).chats.create(model="gemini-2.5-pro", config=gt.GenerateContentConfig(
        tools=TOOLS, thinking_config=gt.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
    chunks = list(chat.send_message_stream("Weather?"))
    thoughts = "".join(p.text or "" for c in chunks for p in (c.candidates[0].content.parts or [])  # type: ignore[index,union-attr]
                       if p.thought)
    assert thoughts == thinking.text
    assert routes.requests[0].reasoning == ir.Reasoning(budget_tokens=2048, summary="auto")
    for _ in chat.send_message_stream([gt.Part.from_function_response(name="get_weather", response={"output": "sun"})]):
        pass
    history = routes.requests[1].messages
    assert history[1].content == (thinking, ir.ToolCallPart("toolu_9", "get_weather", '{"city":"Paris"}'))


def test_json_mode_and_tool_choice() -> None:
    routes = FakeRoutes(reply(ir.TextPart('{"city":"Oslo"}')))
    resp = client_for(routes).models.generate_content(
        model="gemini-2.5-pro", contents="Pick a city",
        config=gt.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=gt.Schema(type="OBJECT", properties={"city": gt.Schema(type="STRING")}),
            tools=TOOLS,
            tool_config=gt.ToolConfig(function_calling_config=gt.FunctionCallingConfig(mode="ANY", allowed_function_names=["get_weather"])),
        ),
    )
    assert resp.parsed == {"city": "Oslo"}  # the SDK parsed our JSON answer against its schema
    req = routes.requests[0]
    assert req.response_format == {"type": "json_schema", "json_schema": {"name": "response", "schema": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}
    assert req.tool_choice == ir.ToolChoice("tool", "get_weather")


@pytest.mark.parametrize(
    ("config", "code", "field"),
    [
        (gt.GenerateContentConfig(candidate_count=2), 400, "generationConfig.candidateCount"),
        (gt.GenerateContentConfig(temperature=5), 400, "generationConfig.temperature"),
        (gt.GenerateContentConfig(tool_config=gt.ToolConfig(function_calling_config=gt.FunctionCallingConfig(
            mode="ANY", allowed_function_names=["nope"]))), 400, "toolConfig.functionCallingConfig.allowedFunctionNames[0]"),
    ],
)
def test_refusals_reach_the_sdk_as_google_errors(config: gt.GenerateContentConfig, code: int, field: str) -> None:
    routes = FakeRoutes(reply(ir.TextPart("never")))
    with pytest.raises(gerrors.ClientError) as info:
        client_for(routes).models.generate_content(model="gemini-2.5-pro", contents="x", config=config)
    assert info.value.code == code and info.value.status == "INVALID_ARGUMENT"
    assert info.value.details["error"]["details"][0]["fieldViolations"][0]["field"] == field
    assert routes.requests == []


def test_upstream_failure_mid_stream_raises_in_the_sdk() -> None:
    def answer(req: ir.Request) -> list[ir.Event]:
        return [ir.MessageStart("r", req.model), ir.BlockStart(0, "text"), ir.TextDelta(0, "Hel"),
                ir.StreamError("overloaded_error", "upstream overloaded", 529)]

    seen: list[str] = []
    with pytest.raises(gerrors.APIError) as info:
        for chunk in client_for(FakeRoutes(answer)).models.generate_content_stream(model="gemini-2.5-pro", contents="hi"):
            seen.append(chunk.text or "")
    assert seen == ["Hel"]
    assert info.value.status == "UNAVAILABLE" and info.value.message == "upstream overloaded"


def test_count_tokens_and_model_listing() -> None:
    client = client_for(FakeRoutes(reply()))
    assert client.models.count_tokens(model="gemini-2.5-pro", contents="one two three").total_tokens == 3
    listed = list(client.models.list())
    assert [(m.name, m.display_name, m.input_token_limit) for m in listed] == [("models/gemini-2.5-pro", "Gemini 2.5 Pro", 1048576)]


@pytest.mark.parametrize("signature", SIGNATURES)
def test_signature_only_thinking_rides_on_the_call(signature: str) -> None:
    """Gemini 3's way: the signature sits on the function call part, and comes back there."""
    answers = iter([reply(ir.ThinkingPart("", signature=signature), ir.ToolCallPart("c1", "get_weather", '{"city":"Oslo"}'),
                          stop="tool_use"), reply(ir.TextPart("ok"))])
    routes = FakeRoutes(lambda req: next(answers)(req))
    chat = client_for(routes).chats.create(model="gemini-2.5-pro", config=gt.GenerateContentConfig(
        tools=TOOLS, automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
    first = chat.send_message("Oslo?")
    parts = first.candidates[0].content.parts  # type: ignore[index,union-attr]
    assert parts is not None and parts[0].function_call is not None and parts[0].thought_signature
    chat.send_message([gt.Part.from_function_response(name="get_weather", response={"output": "snow"})])
    assert routes.requests[1].messages[1].content == (ir.ThinkingPart("", signature=signature),
                                                      ir.ToolCallPart("c1", "get_weather", '{"city":"Oslo"}'))


def test_a_broken_image_is_refused_naming_the_gemini_field() -> None:
    """The relay's image check names the client's own path, recorded by the parser."""
    if validate.__module__ == __name__:
        pytest.skip("features/validate.py is not in this tree")
    routes = FakeRoutes(reply(ir.TextPart("never")))
    with pytest.raises(gerrors.ClientError) as info:
        client_for(routes).models.generate_content(
            model="gemini-2.5-pro",
            contents=["look", gt.Part.from_bytes(data=b"not an image", mime_type="image/png")])
    assert info.value.code == 400 and "contents[0].parts[1].inlineData" in (info.value.message or "")
