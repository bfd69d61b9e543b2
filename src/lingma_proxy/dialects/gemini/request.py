"""Gemini ``GenerateContentRequest`` (client wire JSON) -> ``ir.Request``.

Gemini names the model and the stream-ness in the URL (``POST /v1beta/models/{model}:
generateContent`` or ``:streamGenerateContent``), not in the body, so the route passes them in.

Translation choices:

* Function calls need not carry ids (older API versions never do). A call without one gets a
  stable id from its position (``call_<content>_<part>``: the same history yields the same ids
  on every request, which keeps upstream prompt caches warm); a ``functionResponse`` without an
  id answers the earliest unanswered call of the same name, as Gemini itself pairs them.
* ``inlineData`` images become IR images; other inline media (PDF, audio, video) cannot travel
  to the proxy's upstreams and become a short text note instead, so the model knows something
  was attached. ``fileData`` is carried only as an image URL over http(s); Google file URIs
  (``gs://``, the Files API) need Google's credentials and are refused.
* ``thinkingConfig``: ``thinkingBudget`` 0 turns reasoning off, -1 (dynamic) or absent leaves
  it on at the model's discretion, a positive budget is ``budget_tokens``; ``thinkingLevel`` is
  the effort; ``includeThoughts: true`` asks for reasoning summaries (``summary="auto"``).
* ``safetySettings``, ``cachedContent``, server tools (``googleSearch``, ``codeExecution``...)
  and unmodelled generation options are accepted and kept in ``Request.extra`` (a Gemini
  upstream could receive them; others ignore them). ``candidateCount`` above 1 is refused.
"""

from __future__ import annotations

from typing import Any

from ... import ir
from . import options
from ._wire import (
    NAME,
    dump_object,
    fail,
    get,
    has,
    type_name,
    unknown,
    want_bool,
    want_dict,
    want_list,
    want_str,
)
from .parts import add_thought, sig_in

_TOP = frozenset(
    {"model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings"}
)
_ROLES: dict[str, ir.Role] = {"user": "user", "model": "assistant", "function": "user"}
_FILE_HOSTS = ("generativelanguage.googleapis.com", "storage.googleapis.com")

Origins = dict[int, str]


def parse_request(body: Any, *, model: str, stream: bool) -> ir.Request:
    """Client wire JSON -> IR. ``model`` and ``stream`` come from the URL path (``models/{model}:
    generateContent`` / ``:streamGenerateContent``); raises ``errors.InvalidRequest`` naming the
    offending field."""
    if not isinstance(body, dict):
        fail(f"Invalid JSON payload: request body must be an object, got {type_name(body)}")
    name = model[len("models/"):] if model.startswith("models/") else model
    if not name:
        fail("model: a model name is required in the path (models/{model}:generateContent)", "model")
    extra: dict[str, Any] = {}
    origins: Origins = {}
    raw_contents = want_list(get(body, "contents"), "contents")
    if not raw_contents:
        fail("contents is not specified", "contents")
    messages = _Contents(origins).parse(raw_contents)
    tools, server_tools = options.tools(get(body, "tools"))
    if server_tools:
        extra["tools"] = server_tools
    tool_choice, tools = options.tool_config(get(body, "toolConfig"), tools, extra)
    safety = get(body, "safetySettings")
    if safety is not None:
        extra["safetySettings"] = want_list(safety, "safetySettings")
    extra.update(unknown(body, _TOP))
    gen = options.Generation(get(body, "generationConfig"), extra)
    return ir.Request(
        model=name,
        messages=messages,
        system=_system(get(body, "systemInstruction")),
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=gen.max_tokens,
        temperature=gen.temperature,
        top_p=gen.top_p,
        top_k=gen.top_k,
        stop=gen.stop,
        stream=stream,
        reasoning=gen.reasoning,
        response_format=gen.response_format,
        dialect=NAME,
        extra=extra,
        origins=origins,
    )


def parse_count_tokens(body: Any, *, model: str) -> ir.Request:
    """A ``:countTokens`` body: either ``{"contents": [...]}`` or ``{"generateContentRequest":
    {...}}`` (the full request, whose system instruction and tools count too)."""
    if isinstance(body, dict) and has(body, "generateContentRequest"):
        inner = want_dict(get(body, "generateContentRequest"), "generateContentRequest")
        return parse_request(inner, model=model, stream=False)
    return parse_request(body, model=model, stream=False)


# --------------------------------------------------------------------------- contents


def _system(raw: object) -> tuple[ir.TextPart, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):  # lenient: the SDK accepts a string and sends a Content
        return (ir.TextPart(raw),) if raw else ()
    content = want_dict(raw, "systemInstruction")
    out: list[ir.TextPart] = []
    for j, part in enumerate(want_list(get(content, "parts"), "systemInstruction.parts")):
        at = f"systemInstruction.parts[{j}]"
        text = get(want_dict(part, at), "text")
        if text is None:
            fail(f"{at}: a system instruction holds only text parts", at)
        if want_str(text, f"{at}.text"):
            out.append(ir.TextPart(text))
    return tuple(out)


class _Contents:
    """Parses ``contents`` in order, pairing function responses with their calls."""

    def __init__(self, origins: Origins) -> None:
        self.origins = origins
        self.unanswered: list[tuple[str, str]] = []  # (name, id) of calls awaiting a response

    def parse(self, raw: list[Any]) -> tuple[ir.Message, ...]:
        """Consecutive contents of one role are one turn: the SDK's chat records a streamed
        answer as one ``model`` content per chunk, and Gemini reads them as one turn."""
        turns: list[tuple[ir.Role, list[ir.Part]]] = []
        for i, c in enumerate(raw):
            role, parts = self._content(c, i, turns)
            if not turns or turns[-1][0] != role:
                turns.append((role, parts))
        return tuple(ir.Message(role, tuple(parts)) for role, parts in turns)

    def _content(self, raw: object, i: int,
                 turns: list[tuple[ir.Role, list[ir.Part]]]) -> tuple[ir.Role, list[ir.Part]]:
        at = f"contents[{i}]"
        content = want_dict(raw, at)
        raw_role = get(content, "role")
        role: ir.Role | None = "user" if raw_role is None or raw_role == "" else None
        if isinstance(raw_role, str) and raw_role:
            role = _ROLES.get(raw_role)
        if role is None:
            fail(f"Please use a valid role: user, model (got {raw_role!r} at '{at}.role')", f"{at}.role")
        raw_parts = want_list(get(content, "parts"), f"{at}.parts")
        if not raw_parts:
            fail(f"{at}.parts: must not be empty", f"{at}.parts")
        parts: list[ir.Part] = turns[-1][1] if turns and turns[-1][0] == role else []
        for j, p in enumerate(raw_parts):
            self._part(p, f"{at}.parts[{j}]", (i, j), role, parts)
        return role, parts

    def _part(self, raw: object, at: str, pos: tuple[int, int], role: ir.Role, out: list[ir.Part]) -> None:
        part = want_dict(raw, at)
        sig = get(part, "thoughtSignature")
        sig = sig_in(want_str(sig, f"{at}.thoughtSignature")) or None if sig is not None else None
        thought = get(part, "thought")
        if thought is not None and want_bool(thought, f"{at}.thought"):
            text = get(part, "text")
            add_thought(out, "" if text is None else want_str(text, f"{at}.text"), sig)
            return
        if sig:
            out.append(ir.ThinkingPart("", signature=sig))
        if has(part, "text"):
            text = want_str(get(part, "text"), f"{at}.text")
            if text:
                out.append(ir.TextPart(text))
        elif has(part, "inlineData"):
            out.append(self._inline(get(part, "inlineData"), f"{at}.inlineData"))
        elif has(part, "fileData"):
            out.append(self._file(get(part, "fileData"), f"{at}.fileData"))
        elif has(part, "functionCall"):
            if role != "assistant":
                fail(f"{at}.functionCall: only a model turn may call functions", f"{at}.functionCall")
            out.append(self._call(get(part, "functionCall"), f"{at}.functionCall", pos))
        elif has(part, "functionResponse"):
            out.append(self._response(get(part, "functionResponse"), f"{at}.functionResponse"))
        elif has(part, "executableCode"):
            code = want_dict(get(part, "executableCode"), f"{at}.executableCode")
            lang = str(get(code, "language") or "").lower().replace("language_unspecified", "")
            out.append(ir.TextPart(f"```{lang}\n{get(code, 'code') or ''}\n```"))
        elif has(part, "codeExecutionResult"):
            result = want_dict(get(part, "codeExecutionResult"), f"{at}.codeExecutionResult")
            out.append(ir.TextPart(f"Code execution output:\n{get(result, 'output') or ''}"))
        elif not sig:
            fail(f"{at}: a part needs one of text, inlineData, fileData, functionCall, functionResponse", at)

    def _inline(self, raw: object, at: str) -> ir.Part:
        blob = want_dict(raw, at)
        mime = want_str(get(blob, "mimeType"), f"{at}.mimeType")
        data = want_str(get(blob, "data"), f"{at}.data")
        if not mime.startswith("image/"):
            return ir.TextPart(f"[an attachment of type {mime} was omitted: this proxy carries only images]")
        image = ir.ImagePart(media_type=mime, data=data)
        self.origins[id(image)] = at
        return image

    def _file(self, raw: object, at: str) -> ir.ImagePart:
        ref = want_dict(raw, at)
        uri = want_str(get(ref, "fileUri"), f"{at}.fileUri")
        mime = get(ref, "mimeType")
        mime = "" if mime is None else want_str(mime, f"{at}.mimeType")
        host = uri.split("://", 1)[-1].split("/", 1)[0].lower()
        if not uri.startswith(("http://", "https://")) or host in _FILE_HOSTS:
            fail(f"{at}.fileUri: Google file URIs cannot be read through this proxy; send the file as inlineData",
                 f"{at}.fileUri")
        if mime and not mime.startswith("image/"):
            fail(f"{at}.mimeType: only images can be sent by URL, got {mime}", f"{at}.mimeType")
        image = ir.ImagePart(media_type=mime, url=uri)
        self.origins[id(image)] = f"{at}.fileUri"
        return image

    def _call(self, raw: object, at: str, pos: tuple[int, int]) -> ir.ToolCallPart:
        call = want_dict(raw, at)
        name = want_str(get(call, "name"), f"{at}.name")
        cid = call.get("id")
        cid = want_str(cid, f"{at}.id") if cid is not None else ""
        args = call.get("args")
        text = "{}" if args is None else dump_object(want_dict(args, f"{at}.args"))
        if text is None:
            fail(f"{at}.args: cannot be encoded as JSON", f"{at}.args")
        part = ir.ToolCallPart(id=cid or f"call_{pos[0]}_{pos[1]}", name=name, arguments=text)
        self.unanswered.append((name, part.id))
        self.origins[id(part)] = at
        return part

    def _response(self, raw: object, at: str) -> ir.ToolResultPart:
        resp = want_dict(raw, at)
        name = want_str(get(resp, "name"), f"{at}.name")
        cid = resp.get("id")
        cid = want_str(cid, f"{at}.id") if cid is not None else ""
        match = next((k for k, (n, i) in enumerate(self.unanswered) if (i == cid if cid else n == name)), None)
        if match is not None:
            cid = self.unanswered.pop(match)[1]
        elif not cid:
            fail(
                f"{at}: no earlier functionCall named {name!r} awaits this response; a function "
                "response turn must come right after the function call turn",
                at,
            )
        body = get(resp, "response")
        body = {} if body is None else want_dict(body, f"{at}.response")
        content: list[ir.TextPart | ir.ImagePart] = []
        is_error = False
        if set(body) == {"output"} and isinstance(body["output"], str):
            text = body["output"]
        elif set(body) == {"error"} and isinstance(body["error"], str):
            text, is_error = body["error"], True
        else:
            text = dump_object(body) or "{}"
        if text:
            content.append(ir.TextPart(text))
        media = get(resp, "parts")
        for k, p in enumerate([] if media is None else want_list(media, f"{at}.parts")):
            pat = f"{at}.parts[{k}]"
            inline = get(want_dict(p, pat), "inlineData")
            if inline is None:
                fail(f"{pat}: only inlineData parts are supported in a function response", pat)
            item = self._inline(inline, f"{pat}.inlineData")
            content.append(item if isinstance(item, (ir.TextPart, ir.ImagePart)) else ir.TextPart(""))
        part = ir.ToolResultPart(tool_call_id=cid, content=tuple(content), is_error=is_error)
        self.origins[id(part)] = at
        return part
