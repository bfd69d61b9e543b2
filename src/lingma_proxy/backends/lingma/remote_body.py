"""IR request -> the body of ``agent_chat_generation``, sans I/O.

Two identities, both as the reference sends them (keys sorted, as Go marshals its maps):

* ``main`` (default): the reference main line, ``jb_plugin``/``memory``/``question_refine``;
  only ``temperature`` reaches the gateway, reasoning is a ``model_config`` flag.
* ``cli``: the QoderCN CLI identity of the reference's later branch (``cli``/``agent``/
  ``common``, ``model_config.source = system``) with ``enable_thinking``/``reasoning_effort``
  and the other sampling parameters, and the assistant's reasoning kept in history.

Messages are OpenAI-like: system text first, tool results as ``role: tool`` messages before
the user text they came with, assistant tool calls as ``tool_calls``, images as data-URL
``image_url`` parts. Every message carries ``response_meta`` and
``reasoning_content_signature`` like the reference's.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from ... import ir

DEFAULT_TEMPERATURE = 0.1
_EMPTY_SCHEMA = {"type": "object", "properties": {}}
_CUSTOM_SCHEMA = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "max": "max"}


def _meta() -> dict[str, Any]:
    return {"id": "", "usage": {"completion_tokens": 0, "prompt_tokens": 0, "total_tokens": 0}}


def _msg(role: str, content: Any, **extra: Any) -> dict[str, Any]:
    m = {"role": role, "content": content, "response_meta": _meta(), "reasoning_content_signature": ""}
    m.update(extra)
    return m


def image_url(part: ir.ImagePart) -> str:
    if part.data is not None:
        return f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return part.url or ""


def _content(texts: list[str], images: list[ir.ImagePart]) -> Any:
    text = "\n".join(texts)
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": image_url(p)}} for p in images]
    return parts


def project_messages(req: ir.Request, *, cli: bool = False) -> list[dict[str, Any]]:
    """The ``messages`` array (system first); empty turns are dropped as the reference does."""
    out: list[dict[str, Any]] = []
    system = req.system_text()
    if system:
        out.append(_msg("system", system))
    for m in req.messages:
        texts: list[str] = []
        images: list[ir.ImagePart] = []
        extra: dict[str, Any] = {"name": m.name} if m.name else {}
        if m.role == "assistant":
            calls: list[dict[str, Any]] = []
            thoughts: list[str] = []
            for p in m.content:
                if isinstance(p, ir.TextPart):
                    texts.append(p.text)
                elif isinstance(p, ir.ToolCallPart):
                    calls.append({"index": len(calls), "id": p.id, "type": "function",
                                  "function": {"name": p.name, "arguments": p.arguments or "{}"}})
                elif isinstance(p, ir.ThinkingPart) and cli and p.text:
                    thoughts.append(p.text)
            if calls:
                extra["tool_calls"] = calls
            if thoughts:
                extra["reasoning_content"] = "".join(thoughts)
            text = "\n".join(t for t in texts if t)
            if text or calls or thoughts:
                out.append(_msg("assistant", text, **extra))
            continue
        for p in m.content:
            if isinstance(p, ir.TextPart):
                texts.append(p.text)
            elif isinstance(p, ir.ImagePart):
                images.append(p)
            elif isinstance(p, ir.ToolResultPart):
                result = "\n".join(c.text for c in p.content if isinstance(c, ir.TextPart))
                images += [c for c in p.content if isinstance(c, ir.ImagePart)]
                out.append(_msg("tool", result, tool_call_id=p.tool_call_id))
        texts = [t for t in texts if t]
        if texts or images:
            out.append(_msg(m.role, _content(texts, images), **extra))
    return out


def project_tools(req: ir.Request) -> list[dict[str, Any]]:
    out = []
    for t in req.tools:
        params = _CUSTOM_SCHEMA if t.kind == "custom" else (t.parameters or _EMPTY_SCHEMA)
        out.append({"type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": params}})
    return out


def project_tool_choice(tc: ir.ToolChoice | None) -> Any:
    """None (omit the field) for auto; ``none``/``required``/the named function otherwise."""
    if tc is None or tc.type == "auto":
        return None
    if tc.type == "none":
        return "none"
    if tc.type == "any":
        return "required"
    return {"type": "function", "function": {"name": tc.name or ""}}


def has_images(req: ir.Request) -> bool:
    for m in req.messages:
        for p in m.content:
            if isinstance(p, ir.ImagePart):
                return True
            if isinstance(p, ir.ToolResultPart) and any(isinstance(c, ir.ImagePart) for c in p.content):
                return True
    return False


def wants_reasoning(req: ir.Request, model: str) -> bool:
    r = req.reasoning
    return (r is not None and r.enabled) or "thinking" in model.lower()


def _cli_parameters(req: ir.Request, model: str) -> dict[str, Any]:
    params: dict[str, Any] = {"temperature": DEFAULT_TEMPERATURE if req.temperature is None else req.temperature}
    r = req.reasoning
    if r is not None and not r.enabled:
        params["enable_thinking"] = False
        params["reasoning_effort"] = "none"
    elif r is not None and r.effort:
        params["enable_thinking"] = True
        params["reasoning_effort"] = _EFFORT.get(r.effort, r.effort)
    elif (r is not None and r.enabled) or "thinking" in model.lower():
        params["enable_thinking"] = True
    if req.max_tokens is not None:
        params["max_tokens"] = req.max_tokens
    if req.top_p is not None:
        params["top_p"] = req.top_p
    if req.top_k is not None:
        params["top_k"] = req.top_k
    if req.stop:
        params["stop"] = list(req.stop)
    return params


def build_body(
    req: ir.Request,
    model: str,
    *,
    version: str,
    identity: str = "main",
    request_id: str | None = None,
    business_id: str | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The chat body for ``model`` (a key). Ids and the time are injectable for tests."""
    cli = identity == "cli"
    rid = request_id or secrets.token_hex(16)
    begin = int(time.time() * 1000) if now_ms is None else now_ms
    images = has_images(req)
    reasoning = wants_reasoning(req, model)
    business: dict[str, Any] = {"begin_at": begin, "id": business_id or str(uuid.uuid4()), "stage": "start",
                                "version": version}
    if cli:
        business.update(product="cli", type="agent")
        model_config: dict[str, Any] = {
            "api_key": "", "display_name": "", "format": "openai", "is_reasoning": reasoning, "is_vl": images,
            "key": model, "max_input_tokens": 180000, "model": "", "source": "system", "url": "",
        }  # fmt: skip
    else:
        business.update(name=f"memory_intent_recognition_{rid}", product="jb_plugin", type="memory")
        model_config = {
            "api_key": "", "display_name": "", "enable": False, "format": "", "is_reasoning": reasoning,
            "is_vl": images, "key": model, "model": model, "source": "", "url": "",
        }  # fmt: skip
    messages = project_messages(req, cli=cli)
    body: dict[str, Any] = {
        "agent_id": "agent_common",
        "aliyun_user_type": "" if cli else "personal_standard",
        "business": business,
        "chat_prompt": "",
        "chat_record_id": rid,
        "code_language": "",
        "image_urls": None,
        "is_reply": cli,
        "is_retry": False,
        "messages": messages,
        "model_config": model_config,
        "parameters": _cli_parameters(req, model) if cli else {
            "temperature": DEFAULT_TEMPERATURE if req.temperature is None else req.temperature},
        "request_id": rid,
        "request_set_id": str(uuid.uuid4()) if cli else "",
        "session_id": "",
        "source": 1 if cli else 0,
        "stream": True,
        "task_id": "common" if cli else "question_refine",
        "version": "3",
    }
    if cli:
        body["chat_task"] = "FREE_INPUT"
        body["session_type"] = "qoderclicn"
    elif images:
        body["image_urls"] = [image_url(p) for m in req.messages for p in _images(m)]
    if req.tools:
        body["tools"] = project_tools(req)
        choice = project_tool_choice(req.tool_choice)
        if choice is not None:
            body["tool_choice"] = choice
    return body


def _images(m: ir.Message) -> list[ir.ImagePart]:
    out: list[ir.ImagePart] = []
    for p in m.content:
        if isinstance(p, ir.ImagePart):
            out.append(p)
        elif isinstance(p, ir.ToolResultPart):
            out += [c for c in p.content if isinstance(c, ir.ImagePart)]
    return out


def _default(v: Any) -> Any:
    if isinstance(v, Mapping):
        return dict(v)
    raise TypeError(type(v).__name__)


def encode(body: dict[str, Any]) -> bytes:
    """Compact JSON with sorted keys: what the reference's Go maps marshal to."""
    return orjson.dumps(body, default=_default, option=orjson.OPT_SORT_KEYS)
