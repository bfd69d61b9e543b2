"""IR parts <-> Gemini ``Part`` objects, shared by requests, responses and streams.

Thought signatures: Gemini puts a ``thoughtSignature`` on a ``thought: true`` part, or (Gemini 3,
function calling) on the first ordinary part after the thinking. The IR keeps a signature on a
``ThinkingPart``; a signature that arrived on an ordinary part becomes a ``ThinkingPart`` with
empty text placed just before that part, and is rendered back onto the part that follows it. So
the signature a Gemini client must echo stays where it put it. Only ``ThinkingPart.signature``
travels; a Responses ``encrypted`` blob and Anthropic redacted thinking mean nothing to Gemini
and are left out.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from ... import ir
from ._wire import dump_object, get

WirePart = dict[str, Any]

# A thoughtSignature is bytes on Gemini's wire (base64 in JSON). The Python SDK decodes it and,
# sending the history back, encodes it again in its own form (URL-safe base64); the JS SDK keeps
# the text. So an IR signature goes out in one canonical form, padded standard base64, and what
# comes back is decoded and brought to that form again. A signature that is not canonical
# standard base64 (another vendor's text, unpadded or URL-safe base64) would not survive that,
# so it travels wrapped: base64 of this marker + its UTF-8 text.
_WRAP = b"lingma-proxy:sig:"


def sig_out(sig: str) -> str:
    """An IR signature as a thoughtSignature that comes back to ``sig_in`` unchanged."""
    try:
        raw = base64.b64decode(sig, validate=True)
        if base64.b64encode(raw).decode() == sig and not raw.startswith(_WRAP):
            return sig
    except (binascii.Error, ValueError):
        pass
    return base64.b64encode(_WRAP + sig.encode()).decode()


def sig_in(value: str) -> str:
    """A thoughtSignature from the wire (either base64 alphabet, padded or not) -> the IR signature."""
    text = value.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return value
    if raw.startswith(_WRAP):
        return raw[len(_WRAP):].decode("utf-8", "replace")
    return base64.b64encode(raw).decode()


def render_parts(
    parts: Iterable[ir.Part], *, thoughts: bool, names: Mapping[str, str] | None = None
) -> list[WirePart]:
    """IR parts -> Gemini parts. ``thoughts`` keeps thinking text (``includeThoughts``);
    ``names`` maps tool call ids to function names (a functionResponse must name its call)."""
    out: list[WirePart] = []
    pending: str | None = None  # a signature waiting for the next part
    for p in parts:
        if isinstance(p, ir.ThinkingPart):
            if p.redacted:
                continue
            if p.text and thoughts:
                part: WirePart = {"text": p.text, "thought": True}
                if p.signature:
                    part["thoughtSignature"] = sig_out(p.signature)
                out.append(part)
            elif not p.text and p.signature:
                pending = sig_out(p.signature)
            continue
        rendered = _render_one(p, names or {})
        if rendered is None:
            continue
        if pending is not None:
            rendered["thoughtSignature"] = pending
            pending = None
        out.append(rendered)
    if pending is not None:
        out.append({"text": "", "thoughtSignature": pending})
    return out


def _render_one(p: ir.Part, names: Mapping[str, str]) -> WirePart | None:
    if isinstance(p, ir.TextPart):
        return {"text": p.text} if p.text else None
    if isinstance(p, ir.ToolCallPart):
        return {"functionCall": function_call(p)}
    if isinstance(p, ir.ImagePart):
        return render_image(p)
    if isinstance(p, ir.ToolResultPart):
        return {"functionResponse": _function_response(p, names)}
    return None


def function_call(p: ir.ToolCallPart) -> dict[str, Any]:
    call: dict[str, Any] = {"name": p.name, "args": p.parsed_arguments()}
    if p.id:
        call["id"] = p.id
    return call


def _function_response(p: ir.ToolResultPart, names: Mapping[str, str]) -> dict[str, Any]:
    # Gemini's convention (and Gemini CLI's): {"output": ...} on success, {"error": ...} on failure.
    out: dict[str, Any] = {
        "id": p.tool_call_id,
        "name": names.get(p.tool_call_id) or p.tool_call_id,
        "response": {"error" if p.is_error else "output": p.text()},
    }
    images = [render_image(c) for c in p.content if isinstance(c, ir.ImagePart)]
    kept = [i for i in images if i is not None]
    if kept:
        out["parts"] = kept
    return out


def render_image(p: ir.ImagePart) -> WirePart | None:
    if p.data:
        return {"inlineData": {"mimeType": p.media_type or "image/png", "data": p.data}}
    url = p.url or ""
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        if sep and head.endswith(";base64"):
            return {"inlineData": {"mimeType": head[:-7] or "image/png", "data": data}}
        return None
    if url:
        ref: dict[str, Any] = {"fileUri": url}
        if p.media_type:
            ref["mimeType"] = p.media_type
        return {"fileData": ref}
    return None


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def add_thought(out: list[ir.Part], text: str, sig: str | None) -> None:
    """Append a ``thought: true`` part. Thought text streams as many parts (and a client may
    keep them apart, even one content per chunk), its signature on the last: consecutive
    thought parts are one ThinkingPart until a signature closes it."""
    prev = out[-1] if out else None
    if isinstance(prev, ir.ThinkingPart) and prev.signature is None and not prev.redacted:
        out[-1] = ir.ThinkingPart(prev.text + text, signature=sig)
    else:
        out.append(ir.ThinkingPart(text, signature=sig))


def parse_model_parts(raw: object) -> list[ir.Part]:
    """An upstream candidate's parts -> IR parts, leniently: malformed parts are skipped."""
    out: list[ir.Part] = []
    if not isinstance(raw, list):
        return out
    for part in raw:
        if isinstance(part, dict):
            model_part(part, out)
    return out


def model_part(part: dict[str, Any], out: list[ir.Part]) -> None:
    """One upstream part -> zero, one or two IR parts (a signature on an ordinary part comes
    first as a text-less ThinkingPart)."""
    sig = get(part, "thoughtSignature")
    sig = sig_in(sig) if isinstance(sig, str) and sig else None
    text = get(part, "text")
    if get(part, "thought") is True:
        add_thought(out, text if isinstance(text, str) else "", sig)
        return
    if sig:
        out.append(ir.ThinkingPart("", signature=sig))
    call = get(part, "functionCall")
    if isinstance(call, dict):
        cid, name, args = call.get("id"), call.get("name"), call.get("args")
        out.append(
            ir.ToolCallPart(
                id=cid if isinstance(cid, str) and cid else new_call_id(),
                name=name if isinstance(name, str) else "",
                arguments=(dump_object(args) or "{}") if isinstance(args, dict) else "{}",
            )
        )
    elif isinstance(text, str) and text:
        out.append(ir.TextPart(text))
