"""``ir.Request`` -> Gemini ``GenerateContentRequest`` JSON (camelCase), for a Gemini upstream.

The model and the stream-ness travel in the URL: ``request_path`` gives it. Mid-conversation
system messages from other dialects become ``<system-reminder>`` user text (Gemini has only
the leading ``systemInstruction``); a message left with no parts is skipped (Gemini refuses
empty ``parts``). Tool schemas go as Gemini ``parameters`` when the OpenAPI subset can hold
them, else unchanged as ``parametersJsonSchema``.
"""

from __future__ import annotations

from typing import Any

from ... import ir
from ._wire import LEVEL_OUT, NAME
from .parts import render_parts
from .schema import from_json_schema

_EMPTY_PARAMS = {"type": "object", "properties": {}}


def request_path(req: ir.Request) -> str:
    """The path under ``/v1beta/`` this request is sent to."""
    if req.stream:
        return f"models/{req.model}:streamGenerateContent?alt=sse"
    return f"models/{req.model}:generateContent"


def render_request(req: ir.Request) -> dict[str, Any]:
    same = req.dialect == NAME
    names = {p.id: p.name for m in req.messages for p in m.content if isinstance(p, ir.ToolCallPart)}
    contents: list[dict[str, Any]] = []
    for msg in req.messages:
        if msg.role == "system":
            text = msg.text()
            if not text.strip():
                continue
            role, parts = "user", [{"text": f"<system-reminder>\n{text}\n</system-reminder>"}]
        else:
            role = "model" if msg.role == "assistant" else "user"
            parts = render_parts(msg.content, thoughts=True, names=names)
        if parts:
            contents.append({"role": role, "parts": parts})
    body: dict[str, Any] = {"contents": contents}
    system = [{"text": p.text} for p in req.system if p.text]
    if system:
        body["systemInstruction"] = {"parts": system}
    tools: list[dict[str, Any]] = []
    if req.tools:
        tools.append({"functionDeclarations": [_declaration(t) for t in req.tools]})
        config = _tool_config(req.tool_choice)
        if config is not None:
            body["toolConfig"] = {"functionCallingConfig": config}
    if same:
        server = req.extra.get("tools")
        if isinstance(server, list):
            tools.extend(server)
    if tools:
        body["tools"] = tools
    gen = _generation(req)
    if same:
        rest = req.extra.get("generationConfig")
        if isinstance(rest, dict):
            gen.update({k: v for k, v in rest.items() if k not in gen})
        for key, value in req.extra.items():
            if key == "toolConfig" and isinstance(value, dict):
                body.setdefault("toolConfig", {}).update(value)
            elif key not in ("tools", "generationConfig", "toolConfig") and key not in body:
                body[key] = value
    if gen:
        body["generationConfig"] = gen
    return body


def _declaration(t: ir.Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": t.name}
    desc = t.description
    schema: dict[str, Any]
    if t.kind == "custom":
        if t.format:
            definition = t.format.get("definition")
            if isinstance(definition, str) and definition:
                desc = f"{desc}\n\nThe input must follow this grammar:\n{definition}".strip()
        schema = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
    else:
        schema = dict(t.parameters)
    if desc:
        out["description"] = desc
    if schema == _EMPTY_PARAMS:
        return out  # Gemini refuses an OBJECT with empty properties; no parameters means none
    converted = from_json_schema(schema)
    if converted is not None:
        out["parameters"] = converted
    else:
        out["parametersJsonSchema"] = schema
    return out


def _tool_config(choice: ir.ToolChoice | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice.type == "none":
        return {"mode": "NONE"}
    if choice.type == "any":
        return {"mode": "ANY"}
    if choice.type == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [choice.name or ""]}
    return {"mode": "AUTO"}


def _generation(req: ir.Request) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    if req.temperature is not None:
        gen["temperature"] = req.temperature
    if req.top_p is not None:
        gen["topP"] = req.top_p
    if req.top_k is not None:
        gen["topK"] = req.top_k
    if req.max_tokens is not None:
        gen["maxOutputTokens"] = req.max_tokens
    if req.stop:
        gen["stopSequences"] = list(req.stop)
    r = req.reasoning
    if r is not None:
        thinking: dict[str, Any] = {}
        if not r.enabled:
            thinking["thinkingBudget"] = 0
        elif r.budget_tokens is not None:
            thinking["thinkingBudget"] = r.budget_tokens
        elif r.effort is not None:
            thinking["thinkingLevel"] = LEVEL_OUT[r.effort]
        else:
            thinking["thinkingBudget"] = -1  # dynamic: the model decides
        if r.summary is not None and r.enabled:
            thinking["includeThoughts"] = True
        gen["thinkingConfig"] = thinking
    rf = req.response_format
    if rf:
        kind = rf.get("type")
        if kind == "json_object":
            gen["responseMimeType"] = "application/json"
        elif kind == "json_schema":
            spec = rf.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            gen["responseMimeType"] = "application/json"
            if isinstance(schema, dict):
                converted = from_json_schema(schema)
                if converted is not None:
                    gen["responseSchema"] = converted
                else:
                    gen["responseJsonSchema"] = schema
    return gen
