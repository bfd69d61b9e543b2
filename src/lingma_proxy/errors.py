"""Every failure the proxy reports, as one hierarchy.

Each class knows its HTTP status and its ``kind`` (the Anthropic error type name, which is the
richest vocabulary of the three dialects); each dialect maps ``kind`` to its own error shape.

    ProxyError (500, api_error)
    ├── InvalidRequest (400, invalid_request_error)
    │   └── ContextLengthExceeded (400, invalid_request_error, code context_length_exceeded)
    ├── AuthenticationFailed (401, authentication_error)
    ├── PermissionDenied (403, permission_error)
    ├── NotFound (404, not_found_error)
    ├── RequestTooLarge (413, request_too_large)
    ├── RateLimited (429, rate_limit_error)
    ├── ClientGone (499, cancelled): the client left; nothing is rendered
    └── UpstreamError (502, api_error): the upstream failed or answered nonsense
        ├── UpstreamUnavailable (503, api_error): nothing to connect to / not configured
        ├── Overloaded (529, overloaded_error)
        └── UpstreamTimeout (504, timeout_error)

Messages must never contain secrets: callers pass URLs through ``redact_url``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class ProxyError(Exception):
    status: int = 500
    kind: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.retryable = retryable
        if status is not None:
            self.status = status


class InvalidRequest(ProxyError):
    status = 400
    kind = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("code", "context_length_exceeded")
        super().__init__(message, **kw)  # type: ignore[arg-type]


class AuthenticationFailed(ProxyError):
    status = 401
    kind = "authentication_error"


class PermissionDenied(ProxyError):
    status = 403
    kind = "permission_error"


class NotFound(ProxyError):
    status = 404
    kind = "not_found_error"


class RequestTooLarge(ProxyError):
    status = 413
    kind = "request_too_large"


class RateLimited(ProxyError):
    status = 429
    kind = "rate_limit_error"


class ClientGone(ProxyError):
    status = 499
    kind = "cancelled"


class UpstreamError(ProxyError):
    status = 502
    kind = "api_error"


class UpstreamUnavailable(UpstreamError):
    status = 503


class Overloaded(UpstreamError):
    status = 529
    kind = "overloaded_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout_error"


def from_status(status: int, message: str) -> ProxyError:
    """The error class an upstream HTTP status maps to (used by every HTTP backend)."""
    if status == 400 or status == 422:
        return InvalidRequest(message)
    if status == 401:
        return AuthenticationFailed(message)
    if status == 403:
        return PermissionDenied(message)
    if status == 404:
        return NotFound(message)
    if status == 413:
        return RequestTooLarge(message)
    if status == 429:
        return RateLimited(message, retryable=True)
    if status == 529 or status == 503:
        return Overloaded(message, retryable=True)
    if status == 504 or status == 408:
        return UpstreamTimeout(message, retryable=True)
    if status >= 500:
        return UpstreamError(message, retryable=True)
    return UpstreamError(f"upstream answered HTTP {status}: {message}")


def redact_url(url: str) -> str:
    """A URL safe to show: user info and query string removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
