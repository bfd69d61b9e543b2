"""Gemini requests: bodies built and serialized by the official google-genai SDK (exactly what it
sends on the wire, camelCase and proto snake_case mixed) parsed into the IR; parse(render(ir))
== ir for a table of requests; malformed bodies refused naming the field; mutated bodies raise
nothing but InvalidRequest."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from google import genai
from google.genai import _common, models, types as gt
from hypothesis import HealthCheck, given, settings, strategies as st

from lingma_proxy import errors, ir
from lingma_proxy.dialects import gemini

CLIENT = genai.Client(api_key="test-key-not-used")  # builds no connection until a call
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def sdk_body(contents: Any, config: gt.GenerateContentConfig | None = None) -> dict[str, Any]:
    """The body google-genai sends for models.generate_content (models._generate_content)."""
    params = gt._GenerateContentParameters(model="gemini-2.5-pro", contents=contents, config=config)
    body = models._GenerateContentParameters_to_mldev(CLIENT._api_client, params, None, params)
    assert body.pop("_url") == {"model": "models/gemini-2.5-pro"}
    body.pop("config", None)
    body.pop("_query", None)
    out: dict[str, Any] = _common.encode_unserializable_types(_common.convert_to_dict(body))
    return out


def parse(body: Any, stream: bool = False) -> ir.Request:
    return gemini.parse_request(body, model="models/gemini-2.5-pro", stream=stream)


WEATHER = gt.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=gt.Schema(
        type="OBJECT",
        properties={
            "city": gt.Schema(type="STRING", description="City name"),
            "unit": gt.Schema(type="STRING", enum=["C", "F"], nullable=True),
            "days": gt.Schema(type="INTEGER", minimum=1, maximum=7),
            "tags": gt.Schema(type="ARRAY", items=gt.Schema(type="STRING"), max_items=3),
        },
        required=["city"],
    ),
)
WEATHER_JSON = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": ["string", "null"], "enum": ["C", "F"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["city"],
}


# --------------------------------------------------------------------------- SDK-built requests


def test_sdk_text_system_and_generation_config() -> None:
    body = sdk_body(
        "Hello there",
        gt.GenerateContentConfig(
            system_instruction="Be brief.", temperature=0.3, top_p=0.9, top_k=40, max_output_tokens=256,
            stop_sequences=["END"], candidate_count=1, seed=7,
            safety_settings=[gt.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_NONE")],
        ),
    )
    req = parse(body, stream=True)
    assert req.model == "gemini-2.5-pro" and req.stream and req.dialect == "gemini"
    assert req.messages == (ir.Message("user", (ir.TextPart("Hello there"),)),)
    assert req.system == (ir.TextPart("Be brief."),)
    assert (req.temperature, req.top_p, req.top_k, req.max_tokens, req.stop) == (0.3, 0.9, 40, 256, ("END",))
    assert req.extra["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert req.extra["generationConfig"] == {"seed": 7}


def test_sdk_images_parallel_calls_and_responses() -> None:
    contents = [
        gt.Content(role="user", parts=[gt.Part.from_text(text="What is here?"),
                                       gt.Part.from_bytes(data=b"\x89PNG", mime_type="image/png")]),
        gt.Content(role="model", parts=[gt.Part.from_function_call(name="get_weather", args={"city": "Paris"}),
                                        gt.Part.from_function_call(name="get_weather", args={"city": "Rome"}),
                                        gt.Part.from_function_call(name="clock", args={})]),
        gt.Content(role="user", parts=[gt.Part.from_function_response(name="clock", response={"output": "12:00"}),
                                       gt.Part.from_function_response(name="get_weather", response={"output": "sun"}),
                                       gt.Part.from_function_response(name="get_weather", response={"error": "no data"})]),
    ]
    req = parse(sdk_body(contents, gt.GenerateContentConfig(tools=[gt.Tool(function_declarations=[WEATHER])])))
    user, model, results = req.messages
    assert user.content[1] == ir.ImagePart(media_type="image/png", data=base64.b64encode(b"\x89PNG").decode())
    calls = [p for p in model.content if isinstance(p, ir.ToolCallPart)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_1_0", "get_weather", '{"city":"Paris"}'),
        ("call_1_1", "get_weather", '{"city":"Rome"}'),
        ("call_1_2", "clock", "{}"),
    ]
    # Responses without ids pair by name, in order.
    assert [(r.tool_call_id, r.text(), r.is_error) for r in results.content if isinstance(r, ir.ToolResultPart)] == [
        ("call_1_2", "12:00", False), ("call_1_0", "sun", False), ("call_1_1", "no data", True),
    ]
    assert req.tools[0].parameters == WEATHER_JSON
    # Origins name the wire path of every image, call and result.
    assert req.origins[id(user.content[1])] == "contents[0].parts[1].inlineData"
    assert req.origins[id(calls[2])] == "contents[1].parts[2].functionCall"
    # The ids are stable: the same history gives the same ids on the next request.
    again = parse(sdk_body(contents))
    assert [p.id for p in again.messages[1].content if isinstance(p, ir.ToolCallPart)] == [c.id for c in calls]


def test_sdk_call_ids_are_kept_when_present() -> None:
    contents = [
        gt.Content(role="user", parts=[gt.Part.from_text(text="go")]),
        gt.Content(role="model", parts=[gt.Part(function_call=gt.FunctionCall(id="abc", name="f", args={"x": 1})),
                                        gt.Part(function_call=gt.FunctionCall(id="def", name="f", args={"x": 2}))]),
        gt.Content(role="user", parts=[gt.Part(function_response=gt.FunctionResponse(id="def", name="f", response={"output": "2"})),
                                       gt.Part(function_response=gt.FunctionResponse(id="abc", name="f", response={"output": "1"}))]),
    ]
    req = parse(sdk_body(contents))
    assert [p.id for p in req.messages[1].content if isinstance(p, ir.ToolCallPart)] == ["abc", "def"]
    assert [p.tool_call_id for p in req.messages[2].content if isinstance(p, ir.ToolResultPart)] == ["def", "abc"]


def test_sdk_thinking_parts_and_signatures() -> None:
    contents = [
        gt.Content(role="user", parts=[gt.Part.from_text(text="q")]),
        gt.Content(role="model", parts=[gt.Part(text="let me think", thought=True, thought_signature=b"sig-1"),
                                        gt.Part(function_call=gt.FunctionCall(name="f", args={}), thought_signature=b"sig-2")]),
        gt.Content(role="user", parts=[gt.Part.from_function_response(name="f", response={"result": {"n": 3}})]),
    ]
    req = parse(sdk_body(contents))
    sig1, sig2 = (base64.b64encode(s).decode() for s in (b"sig-1", b"sig-2"))
    assert req.messages[1].content == (
        ir.ThinkingPart("let me think", signature=sig1),
        ir.ThinkingPart("", signature=sig2),
        ir.ToolCallPart("call_1_1", "f", "{}"),
    )
    # A response that is not {"output": ...} travels as its JSON text.
    assert req.messages[2].content[0] == ir.ToolResultPart("call_1_1", (ir.TextPart('{"result":{"n":3}}'),))


@pytest.mark.parametrize(
    ("config", "reasoning"),
    [
        (gt.ThinkingConfig(thinking_budget=0), ir.Reasoning(enabled=False)),
        (gt.ThinkingConfig(thinking_budget=-1), ir.Reasoning()),
        (gt.ThinkingConfig(thinking_budget=2048), ir.Reasoning(budget_tokens=2048)),
        (gt.ThinkingConfig(thinking_budget=2048, include_thoughts=True), ir.Reasoning(budget_tokens=2048, summary="auto")),
        (gt.ThinkingConfig(include_thoughts=True), ir.Reasoning(summary="auto")),
        (gt.ThinkingConfig(thinking_level="LOW"), ir.Reasoning(effort="low")),
        (gt.ThinkingConfig(thinking_level="HIGH", include_thoughts=False), ir.Reasoning(effort="high")),
        (gt.ThinkingConfig(thinking_level="MINIMAL"), ir.Reasoning(effort="minimal")),
        (gt.ThinkingConfig(thinking_level="XHIGH"), ir.Reasoning(effort="max")),
    ],
)
def test_sdk_thinking_config(config: gt.ThinkingConfig, reasoning: ir.Reasoning) -> None:
    assert parse(sdk_body("q", gt.GenerateContentConfig(thinking_config=config))).reasoning == reasoning


@pytest.mark.parametrize(
    ("config", "choice", "names"),
    [
        (gt.FunctionCallingConfig(mode="AUTO"), ir.ToolChoice("auto"), ["get_weather", "clock"]),
        (gt.FunctionCallingConfig(mode="VALIDATED"), ir.ToolChoice("auto"), ["get_weather", "clock"]),
        (gt.FunctionCallingConfig(mode="NONE"), ir.ToolChoice("none"), ["get_weather", "clock"]),
        (gt.FunctionCallingConfig(mode="ANY"), ir.ToolChoice("any"), ["get_weather", "clock"]),
        (gt.FunctionCallingConfig(mode="ANY", allowed_function_names=["clock"]), ir.ToolChoice("tool", "clock"),
         ["get_weather", "clock"]),
        (gt.FunctionCallingConfig(mode="ANY", allowed_function_names=["clock", "get_weather"]), ir.ToolChoice("any"),
         ["get_weather", "clock"]),
        (gt.FunctionCallingConfig(mode="ANY", allowed_function_names=["clock", "noop"]), ir.ToolChoice("any"),
         ["clock", "noop"]),
    ],
)
def test_sdk_tool_config_modes(config: gt.FunctionCallingConfig, choice: ir.ToolChoice, names: list[str]) -> None:
    decls = [WEATHER, gt.FunctionDeclaration(name="clock"), gt.FunctionDeclaration(name="noop")]
    if "noop" not in names:
        decls = decls[:2]
    body = sdk_body("q", gt.GenerateContentConfig(tools=[gt.Tool(function_declarations=decls)],
                                                  tool_config=gt.ToolConfig(function_calling_config=config)))
    req = parse(body)
    assert req.tool_choice == choice
    assert [t.name for t in req.tools] == names


def test_sdk_parameters_json_schema_and_server_tools() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False,
              "$defs": {"x": {"const": 1}}}
    body = sdk_body("q", gt.GenerateContentConfig(tools=[
        gt.Tool(function_declarations=[gt.FunctionDeclaration(name="search", parameters_json_schema=schema)]),
        gt.Tool(google_search=gt.GoogleSearch()),
    ]))
    req = parse(body)
    assert req.tools == (ir.Tool("search", parameters=schema),)
    assert req.extra["tools"] == [{"googleSearch": {}}]


@pytest.mark.parametrize(
    ("config", "fmt"),
    [
        (gt.GenerateContentConfig(response_mime_type="application/json"), {"type": "json_object"}),
        (gt.GenerateContentConfig(response_mime_type="application/json", response_schema=WEATHER.parameters),
         {"type": "json_schema", "json_schema": {"name": "response", "schema": WEATHER_JSON}}),
        (gt.GenerateContentConfig(response_mime_type="application/json", response_json_schema={"type": "object"}),
         {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}}),
        (gt.GenerateContentConfig(response_mime_type="text/plain"), None),
    ],
)
def test_sdk_response_format(config: gt.GenerateContentConfig, fmt: dict[str, Any] | None) -> None:
    assert parse(sdk_body("q", config)).response_format == fmt


def test_enum_mime_type_rides_in_extra() -> None:
    body = sdk_body("q", gt.GenerateContentConfig(response_mime_type="text/x.enum",
                                                  response_schema=gt.Schema(type="STRING", enum=["a", "b"])))
    req = parse(body)
    assert req.response_format is None
    assert req.extra["generationConfig"]["responseMimeType"] == "text/x.enum"


def test_count_tokens_bodies() -> None:
    plain = gemini.parse_count_tokens({"contents": [{"parts": [{"text": "hi"}]}]}, model="gemini-x")
    assert plain.messages[0].text() == "hi" and plain.model == "gemini-x"
    full = gemini.parse_count_tokens(
        {"generateContentRequest": {"model": "models/gemini-x", "contents": [{"role": "user", "parts": [{"text": "a"}]}],
                                    "systemInstruction": {"parts": [{"text": "sys"}]}}},
        model="gemini-x",
    )
    assert full.system_text() == "sys"


# --------------------------------------------------------------------------- refusals


def _base() -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _with(path: str, value: Any) -> dict[str, Any]:
    body = _base()
    node: Any = body
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    last = keys[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return body


BAD: list[tuple[Any, str]] = [
    ([], ""),
    ({}, "contents"),
    ({"contents": []}, "contents"),
    ({"contents": "hi"}, "contents"),
    (_with("contents.0.role", "system"), "contents[0].role"),
    (_with("contents.0.role", 3), "contents[0].role"),
    (_with("contents.0.parts", []), "contents[0].parts"),
    (_with("contents.0.parts", [{}]), "contents[0].parts[0]"),
    (_with("contents.0.parts", [{"text": 1}]), "contents[0].parts[0].text"),
    (_with("contents.0.parts", [{"inlineData": {"data": PNG}}]), "contents[0].parts[0].inlineData.mimeType"),
    (_with("contents.0.parts", [{"fileData": {"fileUri": "gs://bucket/a.png"}}]), "contents[0].parts[0].fileData.fileUri"),
    (_with("contents.0.parts", [{"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/x"}}]),
     "contents[0].parts[0].fileData.fileUri"),
    (_with("contents.0.parts", [{"fileData": {"fileUri": "https://x.test/a.pdf", "mimeType": "application/pdf"}}]),
     "contents[0].parts[0].fileData.mimeType"),
    (_with("contents.0.parts", [{"functionCall": {"name": "f"}}]), "contents[0].parts[0].functionCall"),
    (_with("contents.0.parts", [{"functionResponse": {"name": "f", "response": {}}}]), "contents[0].parts[0].functionResponse"),
    (_with("contents.0.parts", [{"thought": "yes", "text": "x"}]), "contents[0].parts[0].thought"),
    (_with("systemInstruction", {"parts": [{"inlineData": {}}]}), "systemInstruction.parts[0]"),
    (_with("tools", {"functionDeclarations": []}), "tools"),
    (_with("tools", [{"functionDeclarations": [{"description": "x"}]}]), "tools[0].functionDeclarations[0].name"),
    (_with("tools", [{"functionDeclarations": [{"name": "f", "parameters": {"type": "TEXT"}}]}]),
     "tools[0].functionDeclarations[0].parameters.type"),
    (_with("tools", [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "bogus": 1}}]}]),
     "tools[0].functionDeclarations[0].parameters.bogus"),
    (_with("tools", [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"},
                                                "parametersJsonSchema": {}}]}]),
     "tools[0].functionDeclarations[0].parametersJsonSchema"),
    (_with("toolConfig", {"functionCallingConfig": {"mode": "SOMETIMES"}}), "toolConfig.functionCallingConfig.mode"),
    (_with("toolConfig", {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["nope"]}}),
     "toolConfig.functionCallingConfig.allowedFunctionNames[0]"),
    (_with("generationConfig.temperature", 3), "generationConfig.temperature"),
    (_with("generationConfig.temperature", "hot"), "generationConfig.temperature"),
    (_with("generationConfig.topP", -0.1), "generationConfig.topP"),
    (_with("generationConfig.topK", 0), "generationConfig.topK"),
    (_with("generationConfig.maxOutputTokens", 0), "generationConfig.maxOutputTokens"),
    (_with("generationConfig.maxOutputTokens", 1.5), "generationConfig.maxOutputTokens"),
    (_with("generationConfig.maxOutputTokens", 2**40), "generationConfig.maxOutputTokens"),
    (_with("generationConfig.stopSequences", [1]), "generationConfig.stopSequences[0]"),
    (_with("generationConfig.candidateCount", 2), "generationConfig.candidateCount"),
    (_with("generationConfig.responseSchema", {"type": "OBJECT"}), "generationConfig.responseMimeType"),
    (_with("generationConfig.thinkingConfig", {"thinkingBudget": -2}), "generationConfig.thinkingConfig.thinkingBudget"),
    (_with("generationConfig.thinkingConfig", {"thinkingLevel": "ULTRA"}), "generationConfig.thinkingConfig.thinkingLevel"),
    (_with("generationConfig.thinkingConfig", {"includeThoughts": "yes"}), "generationConfig.thinkingConfig.includeThoughts"),
    (_with("safetySettings", {"a": 1}), "safetySettings"),
]


@pytest.mark.parametrize(("body", "param"), BAD, ids=[p or "body" for _, p in BAD])
def test_bad_requests_name_the_field(body: Any, param: str) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        parse(body)
    assert (info.value.param or "") == param
    assert info.value.status == 400
    wire = gemini.render_error(info.value)["error"]
    assert wire["status"] == "INVALID_ARGUMENT" and wire["code"] == 400


def test_model_comes_from_the_path() -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        gemini.parse_request(_base(), model="models/", stream=False)
    assert info.value.param == "model"
    assert gemini.parse_request(_base(), model="gemini-flash", stream=False).model == "gemini-flash"


def test_non_image_inline_data_becomes_a_note() -> None:
    req = parse(_with("contents.0.parts", [{"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]))
    assert "application/pdf" in req.messages[0].text()


def test_image_urls_and_proto_spellings() -> None:
    req = parse(_with("contents.0.parts", [
        {"file_data": {"file_uri": "https://img.test/a.png", "mime_type": "image/png"}},
        {"inline_data": {"mime_type": "image/jpeg", "data": PNG}},
    ]))
    assert req.messages[0].content == (
        ir.ImagePart(media_type="image/png", url="https://img.test/a.png"),
        ir.ImagePart(media_type="image/jpeg", data=PNG),
    )


# --------------------------------------------------------------------------- round trips


def _req(*messages: ir.Message, **kw: Any) -> ir.Request:
    return ir.Request(model="gemini-2.5-pro", messages=messages, dialect="gemini", **kw)


U = ir.Message("user", (ir.TextPart("hello"),))
TOOLS = (
    ir.Tool("get_weather", "Weather for a city", WEATHER_JSON),
    ir.Tool("clock"),
    ir.Tool("search", "", {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False}),
)
LOOP = (
    U,
    ir.Message("assistant", (ir.ThinkingPart("plan", signature="c2ln"), ir.TextPart("calling"),
                             ir.ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}'),
                             ir.ToolCallPart("toolu_2", "clock", "{}"))),
    ir.Message("user", (ir.ToolResultPart("toolu_1", (ir.TextPart("sunny"),)),
                        ir.ToolResultPart("toolu_2", (ir.TextPart("boom"),), is_error=True),
                        ir.TextPart("and now?"))),
)
ROUND_TRIPS: dict[str, ir.Request] = {
    "text": _req(U),
    "system": _req(U, system=(ir.TextPart("be nice"), ir.TextPart("be brief"))),
    "multi-turn": _req(U, ir.Message("assistant", (ir.TextPart("hi!"),)), ir.Message("user", (ir.TextPart("bye"),))),
    "images": _req(ir.Message("user", (ir.TextPart("see"), ir.ImagePart("image/png", data=PNG),
                                       ir.ImagePart("image/jpeg", url="https://img.test/a.jpg")))),
    "parallel tools": _req(*LOOP, tools=TOOLS),
    "signature-only thinking": _req(U, ir.Message("assistant", (ir.ThinkingPart("", signature="czI="),
                                                                ir.ToolCallPart("c1", "clock", "{}"))),
                                    ir.Message("user", (ir.ToolResultPart("c1", (ir.TextPart("9"),)),)), tools=TOOLS),
    "tool result image": _req(U, ir.Message("assistant", (ir.ToolCallPart("c1", "clock", "{}"),)),
                              ir.Message("user", (ir.ToolResultPart("c1", (ir.TextPart("shot"), ir.ImagePart("image/png", data=PNG))),)),
                              tools=TOOLS),
    "choice auto": _req(U, tools=TOOLS, tool_choice=ir.ToolChoice("auto")),
    "choice any": _req(U, tools=TOOLS, tool_choice=ir.ToolChoice("any")),
    "choice none": _req(U, tools=TOOLS, tool_choice=ir.ToolChoice("none")),
    "choice tool": _req(U, tools=TOOLS, tool_choice=ir.ToolChoice("tool", "clock")),
    "sampling": _req(U, temperature=0.7, top_p=0.95, top_k=32, max_tokens=1000, stop=("a", "b")),
    "thinking off": _req(U, reasoning=ir.Reasoning(enabled=False)),
    "thinking dynamic": _req(U, reasoning=ir.Reasoning()),
    "thinking budget": _req(U, reasoning=ir.Reasoning(budget_tokens=4096, summary="auto")),
    "thinking level": _req(U, reasoning=ir.Reasoning(effort="medium", summary="auto")),
    "json object": _req(U, response_format={"type": "json_object"}),
    "json schema": _req(U, response_format={"type": "json_schema", "json_schema": {"name": "response", "schema": WEATHER_JSON}}),
    "json schema beyond subset": _req(U, response_format={"type": "json_schema", "json_schema": {
        "name": "response", "schema": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}),
    "extra kept": _req(U, extra={"safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}],
                                 "tools": [{"googleSearch": {}}], "generationConfig": {"seed": 3}}),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_round_trip(name: str) -> None:
    req = ROUND_TRIPS[name]
    body = gemini.render_request(req)
    # What we render is a request the SDK's own types accept.
    gt.GenerateContentConfig.model_validate({k: v for k, v in body.items() if k in ("tools",)} or {})
    for content in body["contents"]:
        gt.Content.model_validate(content)
    assert gemini.parse_request(body, model=req.model, stream=req.stream) == req


def test_render_uses_the_openapi_subset_where_it_fits() -> None:
    body = gemini.render_request(ROUND_TRIPS["parallel tools"])
    decls = body["tools"][0]["functionDeclarations"]
    assert decls[0]["parameters"]["properties"]["unit"] == {"type": "STRING", "nullable": True, "enum": ["C", "F"]}
    assert "parameters" not in decls[1] and "parametersJsonSchema" not in decls[1]  # no empty OBJECT
    assert "parametersJsonSchema" in decls[2]  # additionalProperties is beyond the subset
    assert gemini.request_path(ROUND_TRIPS["text"]) == "models/gemini-2.5-pro:generateContent"


def test_cross_dialect_render() -> None:
    req = ir.Request(
        model="m", dialect="openai_chat",
        messages=(ir.Message("user", (ir.TextPart("a"),)), ir.Message("system", (ir.TextPart("mind"),)),
                  ir.Message("assistant", (ir.ThinkingPart("", encrypted="x", redacted=True),)),
                  ir.Message("user", (ir.ImagePart(url="data:image/gif;base64,R0lG"),))),
        tools=(ir.Tool("patch", "apply", kind="custom", format={"definition": "start: x"}),),
        extra={"seed": 3},
    )
    body = gemini.render_request(req)
    assert [c["role"] for c in body["contents"]] == ["user", "user", "user"]
    assert "<system-reminder>" in body["contents"][1]["parts"][0]["text"]
    assert body["contents"][2]["parts"] == [{"inlineData": {"mimeType": "image/gif", "data": "R0lG"}}]
    assert "seed" not in body
    decl = body["tools"][0]["functionDeclarations"][0]
    assert decl["parameters"]["properties"]["input"] == {"type": "STRING"} and "grammar" in decl["description"]


# --------------------------------------------------------------------------- schema translation

_json_leaf = st.sampled_from([{"type": t} for t in ("string", "number", "integer", "boolean")]
                             + [{"type": ["string", "null"]}, {"type": "string", "enum": ["a", "b"]},
                                {"type": "integer", "minimum": 0, "maximum": 9}, {"type": "string", "format": "date-time"}])
_json_schema = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.builds(lambda i: {"type": "array", "items": i, "minItems": 1}, inner),
        st.builds(lambda props: {"type": "object", "properties": props, "required": sorted(props)[:1]},
                  st.dictionaries(st.text("abcxyz_", min_size=1, max_size=5), inner, min_size=1, max_size=3)),
        st.builds(lambda a, b: {"anyOf": [a, b], "description": "either"}, inner, inner),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(_json_schema)
def test_schema_subset_round_trips(schema: dict[str, Any]) -> None:
    converted = gemini.from_json_schema(schema)
    assert converted is not None
    gt.Schema.model_validate(converted)  # the SDK accepts what we send
    assert gemini.to_json_schema(converted, "p") == schema


# --------------------------------------------------------------------------- mutations

SEED = sdk_body(
    [
        gt.Content(role="user", parts=[gt.Part.from_text(text="q"), gt.Part.from_bytes(data=b"img", mime_type="image/png")]),
        gt.Content(role="model", parts=[gt.Part(text="t", thought=True, thought_signature=b"s"),
                                        gt.Part.from_function_call(name="get_weather", args={"city": "x"})]),
        gt.Content(role="user", parts=[gt.Part.from_function_response(name="get_weather", response={"output": "ok"})]),
    ],
    gt.GenerateContentConfig(
        system_instruction="sys", temperature=0.5, max_output_tokens=10, stop_sequences=["z"],
        tools=[gt.Tool(function_declarations=[WEATHER])],
        tool_config=gt.ToolConfig(function_calling_config=gt.FunctionCallingConfig(mode="ANY")),
        thinking_config=gt.ThinkingConfig(thinking_budget=100, include_thoughts=True),
        response_mime_type="application/json", response_schema=gt.Schema(type="OBJECT", properties={"a": gt.Schema(type="STRING")}),
    ),
)
_junk = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([10**400, -(2**64), 2**63, "12", "-1"]),
                  st.floats(allow_nan=True), st.text(max_size=8),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(SEED)


def test_seed_parses() -> None:
    assert parse(SEED).messages[2].content[0] == ir.ToolResultPart("call_1_1", (ir.TextPart("ok"),))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), _junk, st.booleans()), min_size=1, max_size=3))
def test_mutated_bodies_raise_only_invalid_request(edits: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
    body = copy.deepcopy(SEED)
    for path, value, delete in edits:
        node: Any = body
        try:
            for key in path[:-1]:
                node = node[key]
            if delete and isinstance(node, dict):
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        req = parse(body)
    except errors.InvalidRequest as exc:
        assert exc.param is None or isinstance(exc.param, str)
        return
    # Whatever parsed renders back without failing.
    gemini.render_request(req)


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["role", "parts", "text", "thought", "thoughtSignature", "inlineData", "mimeType",
                                         "data", "fileData", "fileUri", "functionCall", "functionResponse", "name", "id",
                                         "args", "response", "mode", "type", "properties", "items", "x"]), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json, _json, _json)
def test_random_structures_raise_only_invalid_request(contents: Any, tools: Any, gen: Any) -> None:
    body = {"contents": contents, "tools": tools, "generationConfig": gen, "toolConfig": {"functionCallingConfig": gen}}
    try:
        req = parse(body)
    except errors.InvalidRequest:
        return
    gemini.render_request(req)
