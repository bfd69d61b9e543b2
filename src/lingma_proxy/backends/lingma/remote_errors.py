"""What the remote API's failures mean, as ``ProxyError``s that say what to do. Sans I/O.

Fallback to another model is worth it only for failures another model could avoid: 429, 5xx,
timeouts once connected, a dropped stream, an empty answer. Refused credentials, wrong hosts,
unreachable networks and bad requests fail the same way for every model.
"""

from __future__ import annotations

from typing import Any

import orjson

from ... import errors
from . import remote_baseurl
from .remote_envelope import excerpt

RELOGIN = ("log in to Lingma/QoderCN again (the app refreshes its login cache), or export fresh credentials "
           "with `lingma-proxy export-auth` where you are logged in")


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


def body_detail(body: bytes) -> str:
    """A short, readable account of an error body (JSON fields, or the text)."""
    text = body.decode("utf-8", "replace")
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return excerpt(text)
    if isinstance(doc, dict):
        for key in ("errorMessage", "message", "error", "statusMessage", "msg"):
            v = doc.get(key)
            if isinstance(v, dict):
                v = v.get("message")
            if isinstance(v, str) and v:
                code = doc.get("errorCode") or doc.get("code")
                return excerpt(f"{v} ({code})" if isinstance(code, (str, int)) and code else v)
    return excerpt(text)


def http_error(status: int, body: bytes, *, base: str, what: str, source: str = "",
               location: str = "", secrets: tuple[str, ...] = ()) -> errors.ProxyError:
    """An HTTP error status from ``base`` while doing ``what`` ("chat with kmodel", ...)."""
    detail = scrub(body_detail(body), secrets) if body else ""
    head = f"the Lingma remote API at {base} answered HTTP {status} to {what}"
    tail = f": {detail}" if detail else ""
    if 300 <= status < 400:
        where = errors.redact_url(location) if location else "another page"
        return errors.AuthenticationFailed(
            f"{head}, redirecting to {where}: the login session has expired or is not accepted; {RELOGIN}")
    if status == 401:
        return errors.AuthenticationFailed(f"{head}{tail}; the credentials{_from(source)} were rejected: {RELOGIN}")
    if status == 403:
        return errors.PermissionDenied(
            f"{head}{tail}; the credentials{_from(source)} were refused (expired login, or an account "
            f"without access to this model): {RELOGIN}")
    if status == 404:
        hint = ""
        if b"NoSuchKey" in body or remote_baseurl.is_static_host(remote_baseurl.host_of(base)):
            hint = " (a file host, not the API)"
        return errors.NotFound(
            f"{head}{tail}: {base}{hint} looks like the wrong host; set --remote-base-url "
            f"(the official one is {remote_baseurl.DEFAULT_BASE_URL}; enterprise tenants use "
            f"https://<tenant>.rdc.aliyuncs.com)")
    err = errors.from_status(status, f"{head}{tail}")
    err.retryable = status in (408, 429) or status >= 500
    return err


def _from(source: str) -> str:
    return f" from {source}" if source else ""


def html_answer(base: str, what: str, status: int = 200) -> errors.ProxyError:
    """A web page where an event stream was expected: what an expired gateway session serves."""
    return errors.AuthenticationFailed(
        f"the Lingma remote API at {base} answered {what} with an HTML page (HTTP {status}) instead of an "
        f"event stream, which is what an expired login session gets (a redirect to the login page); {RELOGIN}")


def empty_answer(base: str, model: str) -> errors.ProxyError:
    return errors.UpstreamError(
        f"the Lingma remote API at {base} ended the stream for {model} without any answer", retryable=True)


def dropped(base: str, model: str, how: str = "") -> errors.ProxyError:
    return errors.UpstreamError(
        f"the Lingma remote API at {base} closed the stream for {model} before it finished"
        f"{f' ({how})' if how else ''}; the answer is incomplete", retryable=True)


def stalled(base: str, model: str, seconds: float, started: bool) -> errors.ProxyError:
    what = "sent nothing more" if started else "sent no answer"
    return errors.UpstreamTimeout(
        f"the Lingma remote API at {base} {what} for {seconds:g} s on {model} (first-byte/idle timeout, "
        f"--first-byte-timeout)", retryable=True)


def too_slow(base: str, model: str, seconds: float) -> errors.ProxyError:
    return errors.UpstreamTimeout(
        f"the Lingma remote API at {base} did not finish {model} within {seconds:g} s (total timeout, --timeout)",
        retryable=True)


def unreachable(base: str, reason: str) -> errors.ProxyError:
    return errors.UpstreamUnavailable(
        f"cannot reach the Lingma remote API at {base} ({reason}): check the network, the host "
        f"(--remote-base-url) and any proxy (--remote-proxy-url, HTTPS_PROXY)", retryable=True)


def worth_fallback(exc: errors.ProxyError) -> bool:
    return exc.retryable and not isinstance(
        exc, (errors.UpstreamUnavailable, errors.AuthenticationFailed, errors.PermissionDenied, errors.NotFound))
