"""Which web pages and host names may use the proxy: the Origin, Host and forwarded-header rules.

A page in the user's browser can reach a loopback server: directly (a "simple" cross-origin
``POST`` with a ``text/plain`` body is sent without a preflight, so withholding CORS headers only
hides the answer, it does not stop the request) or through DNS rebinding (the page's own host
name made to resolve to 127.0.0.1, so the browser sees a same-origin request). Like Ollama's
``OLLAMA_ORIGINS`` and its allowed-hosts check, this middleware refuses both on every route,
before anything else runs:

* **Origin.** A request with an ``Origin`` header is served only when the origin is a loopback
  one (``http(s)://`` + ``localhost``, ``*.localhost``, ``127.0.0.0/8`` or ``[::1]``, any port),
  the proxy's own (same host and port as the accepted ``Host``), or matches ``allowed_origins``
  (exact, ``*`` globs, ``null``, or ``*`` for any). Anything else is a 403 in the path's error
  dialect, preflights included, with no CORS headers. Allowed origins get
  ``Access-Control-Allow-Origin`` (their own origin, never ``*``) and the SDK headers below.
  Requests without ``Origin`` are not browsers acting for another site and pass.
* **Host.** Unless an API key is required (a rebinding page does not know it), the ``Host``
  must name a loopback address, the bound address (any IP literal when bound to 0.0.0.0 or ::,
  since an IP literal cannot be rebound), or an ``allowed_hosts`` entry; a missing Host passes
  (browsers always send one), a malformed one never does.
* **Forwarded headers.** Only when the peer is in ``trusted_proxies``: ``X-Forwarded-For``
  (rightmost address that is not a trusted proxy) becomes the client address,
  ``X-Forwarded-Host`` the Host and ``X-Forwarded-Proto`` the scheme, for these checks and for
  the admin rule (``admin.py``) downstream. Otherwise they are ignored.

Refusals of API requests are recorded like a refused key (``auth.recorded_refusal``), so the
console shows which page tried. ``allowed_origins``, ``allowed_hosts`` and ``trusted_proxies``
are read from the live settings (a console *Apply* takes effect at once); ``host`` and
``api_key`` are the ones the process started with, as the socket and ``AuthMiddleware`` are.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import errors
from ..config.schema import is_loopback
from .admin import is_admin_path
from .auth import OPEN_PATHS, recorded_refusal
from .dialect_errors import dialect_for_path

# Request headers the official SDKs send (preflights ask for them by name).
CORS_HEADERS = [
    "authorization", "content-type", "x-api-key", "anthropic-version", "anthropic-beta",
    "anthropic-dangerous-direct-browser-access", "openai-beta", "openai-organization",
    "openai-project", "x-stainless-arch", "x-stainless-lang", "x-stainless-os",
    "x-stainless-package-version", "x-stainless-runtime", "x-stainless-runtime-version",
    "x-stainless-retry-count", "x-stainless-timeout", "x-stainless-helper-method",
]
_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
    (b"access-control-allow-headers", ", ".join(CORS_HEADERS).encode()),
    (b"access-control-max-age", b"600"),
]
_EXPOSE = (b"access-control-expose-headers", b"request-id, x-request-id")
_ORIGIN_RE = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?")
_HOST_RE = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CACHE_SIZE = 1024  # distinct Host / Origin values remembered; a flood of new ones just starts over


def _glob(pattern: str, star: str) -> re.Pattern[str]:
    return re.compile("".join(star if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)))


@dataclass(frozen=True, slots=True)
class Policy:
    """The compiled rules for one settings object."""

    origins: tuple[re.Pattern[str], ...]
    any_origin: bool
    hosts: tuple[re.Pattern[str], ...]
    any_host: bool
    bound: str  # the address the server listens on, lowercased, no brackets
    check_host: bool  # False when an API key is required
    proxies: tuple[IPNetwork, ...]


def compile_policy(settings: Any, started: Any) -> Policy:
    """``settings``: the live lists; ``started``: the host and API key the process runs with."""
    origins = tuple(getattr(settings, "allowed_origins", ()))
    hosts = tuple(getattr(settings, "allowed_hosts", ()))
    return Policy(
        # a glob never spans the scheme separator or a port colon: https://*.example.com
        origins=tuple(_glob(o, "[^/:]*") for o in origins if o != "*"),
        any_origin="*" in origins,
        hosts=tuple(_glob(h, "[^:]*") for h in hosts if h != "*"),
        any_host="*" in hosts,
        bound=started.host.strip("[]").lower(),
        check_host=not started.api_key,
        proxies=tuple(ipaddress.ip_network(p, strict=False) for p in getattr(settings, "trusted_proxies", ())),
    )


def host_name(value: str) -> str | None:
    """The name in a Host header (no port, no brackets, lowercased); ``None`` when malformed."""
    value = value.strip().lower()
    if not value:
        return ""
    m = _HOST_RE.fullmatch(value)
    return m.group(1).strip("[]") if m else None


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def host_allowed(policy: Policy, name: str | None) -> bool:
    if name is None:  # `a@b`, spaces, a path: no client names a server so (and admin.py must not parse it)
        return False
    if not policy.check_host or name == "" or is_loopback(name) or policy.any_host:
        return True
    if any(p.fullmatch(name) for p in policy.hosts):
        return True
    if name == policy.bound and not is_loopback(policy.bound):
        return True
    bound_ip = _ip(policy.bound)
    # bound to every interface: reached by any of the machine's addresses, and no IP literal can be rebound
    return bound_ip is not None and bound_ip.is_unspecified and _ip(name) is not None


def is_loopback_origin(origin: str) -> bool:
    m = _ORIGIN_RE.fullmatch(origin)
    return m is not None and is_loopback(m.group(2))


def origin_allowed(policy: Policy, origin: str, host: str) -> bool:
    """``origin`` lowercased; ``host`` the (effective) Host header value, lowercased."""
    if policy.any_origin or is_loopback_origin(origin):
        return True
    if any(p.fullmatch(origin) for p in policy.origins):
        return True
    # the proxy's own pages (the console opened by a LAN address): same host and port as asked for
    scheme, sep, authority = origin.partition("://")
    return bool(sep and host and scheme in ("http", "https") and authority == host)


# ------------------------------------------------------------------------------ forwarded headers


def _address(item: str) -> str:
    item = item.strip().strip('"')
    if item.startswith("["):  # [v6]:port
        return item[1:].partition("]")[0]
    if item.count(":") == 1:  # v4:port
        return item.partition(":")[0]
    return item


def _trusted(address: str, proxies: tuple[IPNetwork, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in proxies)


def forwarded(scope: Scope, proxies: tuple[IPNetwork, ...]) -> Scope:
    """``scope`` with the forwarded client, host and scheme applied when the peer is a trusted proxy."""
    client = scope.get("client")
    if not proxies or not client or not _trusted(client[0], proxies):
        return scope
    values: dict[bytes, list[str]] = {}
    for name, value in scope["headers"]:
        if name in (b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto"):
            values.setdefault(name, []).extend(v.strip() for v in value.decode("latin-1").split(","))
    if not values:
        return scope
    scope = dict(scope)
    chain = [a for a in (_address(v) for v in values.get(b"x-forwarded-for", ())) if a]
    if chain:
        # walk back from the nearest hop: the first address that is not one of our proxies is the client
        client_ip = next((a for a in reversed(chain) if not _trusted(a, proxies)), chain[0])
        scope["client"] = (client_ip, 0)
    proto = [p.lower() for p in values.get(b"x-forwarded-proto", ()) if p]
    if proto and proto[-1] in ("http", "https"):
        scope["scheme"] = proto[-1]
    hosts = [h for h in values.get(b"x-forwarded-host", ()) if h]
    if hosts:  # the nearest (trusted) proxy's value
        scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"host"] + [(b"host", hosts[-1].encode())]
    return scope


# ------------------------------------------------------------------------------ the middleware


class OriginsMiddleware:
    def __init__(self, app: ASGIApp, settings: Any) -> None:
        self.app = app
        self.started = settings
        self._compiled: tuple[Any, Policy] | None = None
        # decisions per header value: a client sends the same few Host/Origin values every time,
        # and parsing addresses costs more than the rest of the request's trip through here
        self._hosts: dict[str, bool] = {}
        self._origins: dict[tuple[str, str], bool] = {}

    def policy(self, scope: Scope) -> Policy:
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None) or self.started
        if self._compiled is None or self._compiled[0] is not settings:
            self._compiled = (settings, compile_policy(settings, self.started))
            self._hosts, self._origins = {}, {}
        return self._compiled[1]

    def host_ok(self, policy: Policy, host: str) -> bool:
        ok = self._hosts.get(host)
        if ok is None:
            if len(self._hosts) >= CACHE_SIZE:
                self._hosts.clear()
            ok = self._hosts[host] = host_allowed(policy, host_name(host))
        return ok

    def origin_ok(self, policy: Policy, origin: str, host: str) -> bool:
        ok = self._origins.get((origin, host))
        if ok is None:
            if len(self._origins) >= CACHE_SIZE:
                self._origins.clear()
            ok = self._origins[(origin, host)] = origin_allowed(policy, origin, host)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy(scope)
        scope = forwarded(scope, policy.proxies)
        host = origin = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1").strip().lower()
            elif name == b"origin":
                origin = value.decode("latin-1").strip().lower()
            elif name == b"access-control-request-method":
                preflight = True
        if not self.host_ok(policy, host or ""):
            await refuse(scope, send, f"the Host header {_shown(host or '')} is not a name this proxy answers "
                                      "to (DNS rebinding protection): add it to allowed_hosts, or require an "
                                      "api_key")
            return
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not self.origin_ok(policy, origin, host or ""):
            await refuse(scope, send, f"requests from the web origin {_shown(origin)} are refused: add it to "
                                      "allowed_origins to let that page use the proxy")
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if preflight and scope["method"] == "OPTIONS":
            headers = cors + _PREFLIGHT_HEADERS + [(b"content-length", b"0")]
            if _header(scope, b"access-control-request-private-network") == b"true":
                headers.append((b"access-control-allow-private-network", b"true"))  # Chrome's PNA preflight
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", ()) if not n.startswith(b"access-control-allow-")]
                message = {**message, "headers": kept + cors + [_EXPOSE]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).strip().lower()
    return None


def _shown(value: str) -> str:
    """An attacker-chosen value quoted in an error: bounded and printable."""
    return repr(value[:100] + ("…" if len(value) > 100 else ""))


async def refuse(scope: Scope, send: Send, message: str) -> None:
    err = errors.PermissionDenied(message)
    if scope["method"] == "OPTIONS" or scope["path"] in OPEN_PATHS or is_admin_path(scope["path"]):
        body = orjson.dumps(dialect_for_path(scope["path"]).render_error(err))
    else:  # a page that tried to use the API shows in the recording and the console, like a 401
        body = recorded_refusal(scope, err)
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
