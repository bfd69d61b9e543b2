"""The remote SSE envelope, sans I/O: ``data:{"body": "<chunk json>", "statusCodeValue": N}``.

Each envelope is unwrapped into the ``SSEEvent`` the OpenAI Chat ``StreamParser`` expects (its
``data`` is the inner chunk). Both end markers (a bare ``data:[DONE]`` and an envelope whose
body is ``"[DONE]"``) become ``[DONE]``; envelopes without a body (the gateway's
``event:finish`` timing record, empty keep-alive bodies) and comments are skipped; a
``statusCodeValue`` of 400 or more is an error, as is a line that is not an envelope at all:
the reference aborts there too, and guessing would hide a protocol change.
"""

from __future__ import annotations

from typing import Any

import orjson

from ... import errors
from ...sse import SSEEvent

DONE = SSEEvent(data="[DONE]")


def excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def in_stream_error(status: int, detail: str) -> errors.ProxyError:
    """The error for an envelope with ``statusCodeValue >= 400``. 429 and 5xx stay retryable
    (another model may answer); the rest are final."""
    msg = f"the Lingma remote API reported an error inside the stream: status {status}"
    if detail:
        msg += f" ({excerpt(detail)})"
    if status in (401, 403):
        msg += "; the login was rejected: log in to Lingma/QoderCN again or export fresh credentials"
    err = errors.from_status(status, msg)
    err.retryable = status == 429 or status >= 500
    return err


def unwrap(ev: SSEEvent) -> SSEEvent | None:
    """The inner event for the chat parser, or None to skip; raises ``ProxyError``."""
    if ev.comment is not None:
        return None
    data = ev.data.strip()
    if not data:
        return None
    if data == "[DONE]":
        return DONE
    try:
        env: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.UpstreamError(
            f"the Lingma remote API sent a malformed stream line (not a JSON envelope): {excerpt(data, 120)!r}"
        ) from None
    if not isinstance(env, dict):
        raise errors.UpstreamError(
            f"the Lingma remote API sent a stream line that is not an envelope object: {excerpt(data, 120)!r}"
        )
    status = env.get("statusCodeValue")
    body = env.get("body")
    if isinstance(status, int) and not isinstance(status, bool) and status >= 400:
        detail = body if isinstance(body, str) else ""
        msg = env.get("statusMessage")
        if not detail and isinstance(msg, str):
            detail = msg
        raise in_stream_error(status, detail)
    if body is None or body == "":
        return None
    if isinstance(body, dict):  # a gateway that nests the chunk instead of quoting it
        return SSEEvent(data=orjson.dumps(body).decode())
    if not isinstance(body, str):
        raise errors.UpstreamError(
            f"the Lingma remote API sent an envelope whose body is not a string: {excerpt(data, 120)!r}"
        )
    if body.strip() == "[DONE]":
        return DONE
    return SSEEvent(data=body)
