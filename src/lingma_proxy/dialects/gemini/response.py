"""Gemini ``GenerateContentResponse`` objects, errors, and the count-tokens and models shapes."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

import orjson

from ... import errors, ir
from ._wire import finish_in, finish_out, get, usage_in, usage_out
from .parts import parse_model_parts, render_parts

GENERATION_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


def response_id(ir_id: str) -> str:
    return ir_id or secrets.token_urlsafe(15)


def shows_thoughts(req: ir.Request) -> bool:
    """Gemini returns thought summaries only to ``includeThoughts: true`` (IR summary set)."""
    return req.reasoning is not None and req.reasoning.summary is not None


# --------------------------------------------------------------------------- responses


def render_response(resp: ir.Response, req: ir.Request) -> dict[str, Any]:
    """IR response -> the ``GenerateContentResponse`` a Gemini client expects."""
    parts = render_parts(resp.content, thoughts=shows_thoughts(req))
    return {
        "candidates": [
            {
                # Gemini never sends empty parts; an empty answer is one empty text part.
                "content": {"role": "model", "parts": parts or [{"text": ""}]},
                "finishReason": finish_out(resp.stop_reason),
                "index": 0,
            }
        ],
        "usageMetadata": usage_out(resp.usage),
        "modelVersion": resp.model or req.model,
        "responseId": response_id(resp.id),
    }


def parse_response(body: Any) -> ir.Response:
    """An upstream ``GenerateContentResponse`` -> IR; an error body raises ``ProxyError``."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        raise errors.UpstreamError("upstream answered with a non-object body")
    if isinstance(body.get("error"), dict):
        raise error_from_body(502, body)
    candidates = body.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else None
    rid, model = get(body, "responseId"), get(body, "modelVersion")
    usage = usage_in(get(body, "usageMetadata"))
    if not isinstance(candidate, dict):
        feedback = get(body, "promptFeedback")
        if isinstance(feedback, dict) and get(feedback, "blockReason"):
            return ir.Response(rid if isinstance(rid, str) else "", model if isinstance(model, str) else "",
                               (), stop_reason="refusal", usage=usage)
        raise errors.UpstreamError("upstream answer has no candidates")
    content = candidate.get("content")
    parts = parse_model_parts(get(content, "parts") if isinstance(content, dict) else None)
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    return ir.Response(
        id=rid if isinstance(rid, str) else "",
        model=model if isinstance(model, str) else "",
        content=tuple(parts),
        stop_reason=finish_in(get(candidate, "finishReason"), has_calls),
        usage=usage,
    )


# --------------------------------------------------------------------------- count tokens, models


def render_count_tokens(total: int) -> dict[str, Any]:
    """The ``:countTokens`` answer."""
    return {"totalTokens": total}


def render_model(info: ir.ModelInfo) -> dict[str, Any]:
    """One entry of ``GET /v1beta/models`` (also the body of ``GET /v1beta/models/{model}``)."""
    out: dict[str, Any] = {
        "name": f"models/{info.id}",
        "version": info.upstream_id or info.id,
        "displayName": info.display_name or info.id,
        "supportedGenerationMethods": list(GENERATION_METHODS),
    }
    if info.context_window:
        out["inputTokenLimit"] = info.context_window
    if info.max_output_tokens:
        out["outputTokenLimit"] = info.max_output_tokens
    if "reasoning" in info.capabilities:
        out["thinking"] = True
    return out


def render_models(models: Iterable[ir.ModelInfo]) -> dict[str, Any]:
    return {"models": [render_model(m) for m in models]}


# --------------------------------------------------------------------------- errors

# errors.ProxyError.kind -> google.rpc.Code name (the ``status`` of Google's error body).
_STATUS = {
    "invalid_request_error": "INVALID_ARGUMENT",
    "request_too_large": "INVALID_ARGUMENT",
    "authentication_error": "UNAUTHENTICATED",
    "permission_error": "PERMISSION_DENIED",
    "not_found_error": "NOT_FOUND",
    "rate_limit_error": "RESOURCE_EXHAUSTED",
    "overloaded_error": "UNAVAILABLE",
    "timeout_error": "DEADLINE_EXCEEDED",
    "cancelled": "CANCELLED",
}
# google.rpc.Code name -> our class (the status names the cause more precisely than HTTP codes).
_KINDS: dict[str, type[errors.ProxyError]] = {
    "INVALID_ARGUMENT": errors.InvalidRequest,
    "FAILED_PRECONDITION": errors.InvalidRequest,
    "OUT_OF_RANGE": errors.InvalidRequest,
    "UNAUTHENTICATED": errors.AuthenticationFailed,
    "PERMISSION_DENIED": errors.PermissionDenied,
    "NOT_FOUND": errors.NotFound,
    "RESOURCE_EXHAUSTED": errors.RateLimited,
    "UNAVAILABLE": errors.Overloaded,
    "DEADLINE_EXCEEDED": errors.UpstreamTimeout,
    "INTERNAL": errors.UpstreamError,
    "UNKNOWN": errors.UpstreamError,
    "ABORTED": errors.UpstreamError,
}
_RETRYABLE = (errors.RateLimited, errors.UpstreamError)
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_TOO_LONG = re.compile(r"exceeds the maximum number of tokens|input token count .* exceeds", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_MAX_TEXT = 200


def status_name(err: errors.ProxyError) -> str:
    name = _STATUS.get(err.kind)
    if name is not None:
        return name
    return "UNAVAILABLE" if err.status == 503 else "INTERNAL"


def render_error(err: errors.ProxyError) -> dict[str, Any]:
    """ProxyError -> Google's error body (the HTTP status is ``err.status``, also its ``code``)."""
    body: dict[str, Any] = {"code": err.status, "message": err.message, "status": status_name(err)}
    details: list[dict[str, Any]] = []
    if err.param:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": err.param, "description": err.message}],
            }
        )
    if err.code:
        # Our machine-readable code (e.g. context_length_exceeded) as Google carries one.
        details.append({"@type": _ERROR_INFO, "reason": err.code.upper(), "domain": "lingma-proxy"})
    if details:
        body["details"] = details
    return {"error": body}


def parse_error(status: int, body: bytes) -> errors.ProxyError:
    """An upstream error answer -> ProxyError, honouring Google's status name."""
    try:
        value = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = " ".join(_TAG.sub(" ", body[:4096].decode("utf-8", "replace")).split())
        return errors.from_status(status, text[:_MAX_TEXT] or f"HTTP {status}")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # the JSON-array stream wraps its error in the array
    if isinstance(value, dict):
        return error_from_body(status, value)
    return errors.from_status(status, f"HTTP {status}")


def error_from_body(status: int, body: dict[str, Any]) -> errors.ProxyError:
    err = body.get("error")
    err = err if isinstance(err, dict) else {}
    message, name = err.get("message"), err.get("status")
    if not isinstance(message, str) or not message:
        message = f"HTTP {status}"
    cls = _KINDS.get(name) if isinstance(name, str) else None
    if cls is None:
        code = err.get("code")
        return errors.from_status(code if isinstance(code, int) and 400 <= code < 600 else status, message)
    if cls is errors.InvalidRequest and 413 in (status, err.get("code")):
        return errors.RequestTooLarge(message)  # Google has no status name of its own for 413
    if cls is errors.InvalidRequest and (_TOO_LONG.search(message) or _reason(err) == "CONTEXT_LENGTH_EXCEEDED"):
        return errors.ContextLengthExceeded(message)
    return cls(message, retryable=issubclass(cls, _RETRYABLE))


def _reason(err: dict[str, Any]) -> str | None:
    details = err.get("details")
    for d in details if isinstance(details, list) else []:
        if isinstance(d, dict) and d.get("@type") == _ERROR_INFO and isinstance(d.get("reason"), str):
            return str(d["reason"])
    return None
