"""Slice D: no web page can use the proxy (server/origins.py), through the real server.

Raw HTTP with explicit ``Origin`` and ``Host`` headers (``http.client`` with ``skip_host``, a
socket where the Host must be missing): origins x every route family x preflight and actual
request x default and configured ``allowed_origins``; Host values with and without an API key and
for each kind of bound address; console content types; ``trusted_proxies`` on and off.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.anthropic_upstream import FakeAnthropicUpstream
from fakes.ir_backend import ScriptedBackend
from fakes.openai_upstream import FakeOpenAIUpstream
from lingma_proxy.config import ConfigError, load_settings
from lingma_proxy.config.schema import is_loopback
from server_harness import ServerThread, make_settings

KEY = "client-key-0123456789"
ADMIN_KEY = "admin-key-0123456789"
SELF = "SELF"  # replaced by the server's own origin, http://127.0.0.1:<port>

CHAT = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "test-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "test-model", "input": "hi"}
# family -> (method, path, JSON body or None, admin-guarded)
ROUTES: dict[str, tuple[str, str, Any, bool]] = {
    "chat": ("POST", "/v1/chat/completions", CHAT, False),
    "chat-alias": ("POST", "/chat/completions", CHAT, False),
    "responses": ("POST", "/v1/responses", RESPONSES, False),
    "messages": ("POST", "/v1/messages", MESSAGES, False),
    "count-messages": ("POST", "/v1/messages/count_tokens", MESSAGES, False),
    "count-responses": ("POST", "/v1/responses/input_tokens", RESPONSES, False),
    "models": ("GET", "/v1/models", None, False),
    "ollama-tags": ("GET", "/api/tags", None, False),
    "capabilities": ("GET", "/v1/capabilities", None, False),
    "health": ("GET", "/health", None, False),
    "root": ("GET", "/", None, False),
    "console": ("GET", "/console", None, True),
    "console-api": ("GET", "/console/api/overview", None, True),
    "console-post": ("POST", "/console/api/requests/clear", {}, True),
    "debug-requests": ("GET", "/debug/requests", None, True),
    "debug-logs": ("GET", "/api/logs", None, True),
}
FEW = ["chat", "messages", "count-responses", "models", "health", "console-api", "debug-requests"]


class Answer:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.body = status, body
        self.headers = {k.lower(): v for k, v in headers}
        self.all_headers = [(k.lower(), v) for k, v in headers]

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def cors(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.startswith("access-control-")}

    def refused_by(self, words: str) -> bool:
        """The origins middleware's 403 (its message names what was refused)."""
        if self.status != 403 or not self.body.startswith(b"{"):
            return False
        return words in self.json()["error"]["message"]


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None,
         host: str | None = "SELF", content_type: str | None = "application/json") -> Answer:
    """One request on a fresh connection; ``host=None`` sends no Host header at all."""
    raw = b"" if body is None else orjson.dumps(body)
    if host is None:
        return _no_host(port, method, path, headers or {}, raw, content_type)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"127.0.0.1:{port}" if host == "SELF" else host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            if content_type is not None:
                conn.putheader("Content-Type", content_type)
            conn.putheader("Content-Length", str(len(raw)))
        conn.endheaders(raw if body is not None else None)
        r = conn.getresponse()
        return Answer(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def _no_host(port: int, method: str, path: str, headers: dict[str, str], raw: bytes,
             content_type: str | None) -> Answer:
    lines = [f"{method} {path} HTTP/1.0", *(f"{k}: {v}" for k, v in headers.items())]
    if method == "POST":
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(raw)}"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hs = [tuple(h.split(": ", 1)) for h in header_lines]
    return Answer(int(status_line.split()[1]), hs, body)  # type: ignore[arg-type]


def route_call(server: ServerThread, family: str, headers: dict[str, str] | None = None,
               host: str | None = "SELF", content_type: str = "application/json") -> Answer:
    method, path, body, _ = ROUTES[family]
    return call(server.port, method, path, headers, body, host=host, content_type=content_type)


def dialect_shape_ok(path: str, body: Any) -> bool:
    if path.startswith("/v1/messages"):
        return body["type"] == "error" and body["error"]["type"] == "permission_error"
    return body["error"]["type"] == "permission_error" and "param" in body["error"]


def serve(**settings: Any) -> Iterator[ServerThread]:
    settings.setdefault("record", False)
    settings.setdefault("trace", False)
    with ServerThread(make_settings(**settings), {"scripted": ScriptedBackend()}) as s:
        yield s


@pytest.fixture(scope="module")
def default() -> Iterator[ServerThread]:
    yield from serve()


CONFIGURED_ORIGINS = ("https://app.example.com", "https://*.corp.example", "chrome-extension://abcdefghijklmnop",
                      "null", "http://192.168.1.20:*")


@pytest.fixture(scope="module")
def configured() -> Iterator[ServerThread]:
    yield from serve(allowed_origins=CONFIGURED_ORIGINS, allowed_hosts=("proxy.lan", "*.internal.example"))


@pytest.fixture(scope="module")
def any_origin() -> Iterator[ServerThread]:
    yield from serve(allowed_origins=("*",))


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerThread]:
    yield from serve(api_key=KEY)


@pytest.fixture(scope="module")
def bound_any() -> Iterator[ServerThread]:
    yield from serve(host="0.0.0.0", insecure_no_auth=True)


@pytest.fixture(scope="module")
def bound_lan() -> Iterator[ServerThread]:
    yield from serve(host="192.168.1.20", insecure_no_auth=True)


# ------------------------------------------------------------------------------------ origins

LOOPBACK_ORIGINS = [
    "http://localhost", "http://localhost:3000", "https://localhost:8443", "http://127.0.0.1",
    "http://127.0.0.1:5173", "https://127.0.0.1:1", "http://127.9.8.7:8080", "http://[::1]:3000", "https://[::1]",
    "HTTP://LOCALHOST:3000", "http://LocalHost", "http://app.localhost:3000", SELF,
]
FOREIGN_ORIGINS = [
    "null", "http://localhost.evil.com", "http://127.0.0.1.nip.io", "http://127.0.0.1.nip.io:8095",
    "http://evil.com", "https://evil.com:8095", "http://localhost.:3000", "http://127.0.0.1.:3000", "file://",
    "chrome-extension://abcdefghijklmnop", "moz-extension://0123-4567", "vscode-webview://x", "http://0.0.0.0:3000",
    "http://localhost@evil.com", "http://evil.com/http://localhost", "ftp://localhost", "https://app.example.com",
    "https://a.corp.example", "http://192.168.1.20:3000", "", "localhost", "http://[::2]:3000",
]


def origin_of(server: ServerThread, origin: str) -> str:
    return f"http://127.0.0.1:{server.port}" if origin == SELF else origin


def check_actual(server: ServerThread, family: str, origin: str, allowed: bool) -> None:
    _, path, _, admin = ROUTES[family]
    # a cross-origin "simple" request: text/plain bodies need no preflight, so the server must refuse
    r = route_call(server, family, {"Origin": origin}, content_type="text/plain" if not admin else "application/json")
    if not allowed:
        assert r.refused_by("web origin"), (r.status, r.body[:300])
        assert dialect_shape_ok(path, r.json()) and r.cors == {}
        return
    assert not r.refused_by("web origin")
    assert r.headers["access-control-allow-origin"] == origin.lower()
    assert "request-id" in r.headers["access-control-expose-headers"]
    assert any(k == "vary" and "origin" in v.lower() for k, v in r.all_headers)
    same = origin.lower() == f"http://127.0.0.1:{server.port}"
    if admin and not same:  # the recording stays same-origin only, whatever allowed_origins says
        assert r.status == 403
    else:
        assert r.status == 200, (r.status, r.body[:300])


def check_preflight(server: ServerThread, family: str, origin: str, allowed: bool) -> None:
    _, path, _, _ = ROUTES[family]
    r = call(server.port, "OPTIONS", path, {
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization,x-api-key,anthropic-version,x-stainless-os",
        "Access-Control-Request-Private-Network": "true"})
    if not allowed:
        assert r.refused_by("web origin") and r.cors == {}, (r.status, r.headers)
        return
    assert r.status == 200 and r.headers["access-control-allow-origin"] == origin.lower()
    for h in ("content-type", "authorization", "x-api-key", "anthropic-version", "x-stainless-os"):
        assert h in r.headers["access-control-allow-headers"]
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-private-network"] == "true"
    assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize("kind", ["actual", "preflight"])
@pytest.mark.parametrize("family", list(ROUTES))
@pytest.mark.parametrize("origin", LOOPBACK_ORIGINS + FOREIGN_ORIGINS)
def test_default_origins(default: ServerThread, origin: str, family: str, kind: str) -> None:
    origin = origin_of(default, origin)
    allowed = origin in LOOPBACK_ORIGINS or origin == origin_of(default, SELF)
    (check_actual if kind == "actual" else check_preflight)(default, family, origin, allowed)


CONFIGURED_CASES = [
    ("https://app.example.com", True), ("HTTPS://APP.EXAMPLE.COM", True), ("https://app.example.com:444", False),
    ("http://app.example.com", False), ("https://a.corp.example", True), ("https://a.b.corp.example", True),
    ("https://corp.example", False), ("https://evilcorp.example", False), ("https://evil.com:1.corp.example", False),
    ("https://corp.example.evil.com", False), ("chrome-extension://abcdefghijklmnop", True),
    ("chrome-extension://otherextensionid", False), ("null", True), ("http://192.168.1.20:3000", True),
    ("http://192.168.1.20", False), ("http://192.168.1.21:3000", False), ("http://localhost:3000", True),
    ("http://[::1]:9", True), ("http://evil.com", False), ("http://localhost.evil.com", False),
]


@pytest.mark.parametrize("kind", ["actual", "preflight"])
@pytest.mark.parametrize("family", FEW)
@pytest.mark.parametrize(("origin", "allowed"), CONFIGURED_CASES)
def test_configured_origins(configured: ServerThread, origin: str, allowed: bool, family: str, kind: str) -> None:
    (check_actual if kind == "actual" else check_preflight)(configured, family, origin, allowed)


@pytest.mark.parametrize("kind", ["actual", "preflight"])
@pytest.mark.parametrize("family", FEW)
@pytest.mark.parametrize("origin", ["http://evil.com", "null", "https://anything.example:444", "file://",
                                    "http://localhost:3000"])
def test_star_allows_every_origin(any_origin: ServerThread, origin: str, family: str, kind: str) -> None:
    (check_actual if kind == "actual" else check_preflight)(any_origin, family, origin, True)


@pytest.mark.parametrize("family", list(ROUTES))
def test_requests_without_origin_get_no_cors_headers(default: ServerThread, family: str) -> None:
    r = route_call(default, family)
    assert r.status == 200 and r.cors == {}


def test_refused_requests_never_reach_the_backend() -> None:
    backend = ScriptedBackend()
    with ServerThread(make_settings(record=False, trace=False), {"scripted": backend}) as s:
        for family in ("chat", "responses", "messages"):
            assert route_call(s, family, {"Origin": "http://evil.com"}).refused_by("web origin")
            assert route_call(s, family, host="evil.com").refused_by("DNS rebinding")
        assert backend.requests == []
        assert route_call(s, "chat", {"Origin": "http://localhost:3000"}).status == 200
        assert len(backend.requests) == 1


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerThread]]:
    """The two HTTP backends: an OpenAI-compatible server and the Anthropic API (passthrough)."""
    home = tmp_path_factory.mktemp("home")
    openai_fake, anthropic_fake = FakeOpenAIUpstream().start_thread(), FakeAnthropicUpstream().start_thread()
    base = {"record": False, "trace": False, "data_dir": str(home)}
    servers = {
        "openai": ServerThread(load_settings({**base, "backend": "openai", "openai_base_url": openai_fake.base_url},
                                             {}, home, home)),
        "anthropic": ServerThread(load_settings({**base, "backend": "anthropic", "anthropic_base_url":
                                                 anthropic_fake.url, "anthropic_api_key": "sk-ant-0123456789"},
                                                {}, home, home)),
    }
    try:
        with servers["openai"], servers["anthropic"]:
            servers["openai"].fake = openai_fake  # type: ignore[attr-defined]
            servers["anthropic"].fake = anthropic_fake  # type: ignore[attr-defined]
            yield servers
    finally:
        openai_fake.stop_thread()
        anthropic_fake.stop_thread()


@pytest.mark.parametrize("family", ["chat", "responses", "messages", "count-messages"])
@pytest.mark.parametrize("backend", ["openai", "anthropic"])
@pytest.mark.parametrize(("headers", "host"), [({"Origin": "http://evil.com"}, "SELF"), ({}, "attacker.com:8095"),
                                               ({"Origin": "null"}, "SELF"), ({}, "127.0.0.1.evil.com")])
def test_http_backends_get_nothing_from_a_refused_page(upstreams: dict[str, ServerThread], backend: str,
                                                       family: str, headers: dict[str, str], host: str) -> None:
    server = upstreams[backend]
    fake: Any = server.fake  # type: ignore[attr-defined]
    before = len(fake.requests)
    r = route_call(server, family, headers, host=host, content_type="text/plain")
    assert r.status == 403 and dialect_shape_ok(ROUTES[family][1], r.json())
    assert len(fake.requests) == before


# ------------------------------------------------------------------------------------ Host

HOSTS = [
    "localhost", "localhost:8095", "LOCALHOST:8095", "127.0.0.1", "127.0.0.1:8095", "127.1.2.3:80", "[::1]:8095",
    "[::1]", "app.localhost:8095", "", None,  # None: no Host header at all (HTTP/1.0)
    "evil.com", "attacker.com:8095", "0.0.0.0", "0.0.0.0:8095", "127.0.0.1.evil.com", "localhost.evil.com",
    "localhost.", "127.0.0.1.nip.io:8095", "evil.com@127.0.0.1", "192.168.1.20:8095", "192.168.1.21",
    "[fe80::1]:8095", "proxy.lan:8095", "a.internal.example", "internal.example", "mybox",
]


def _name(host: str) -> str:
    h = host.lower()
    return h[1:].partition("]")[0] if h.startswith("[") else h.partition(":")[0]


def host_expected(server_kind: str, host: str | None) -> bool:
    if host is not None and "@" in host:
        return False  # malformed: refused even with an API key
    if host is None or host == "" or server_kind == "keyed":
        return True
    name = _name(host)
    if is_loopback(name):
        return True
    if server_kind == "configured":
        return name == "proxy.lan" or name.endswith(".internal.example")
    if server_kind == "bound_any":
        return name.replace(".", "").isdigit() or ":" in name
    if server_kind == "bound_lan":
        return name == "192.168.1.20"
    return False


@pytest.mark.parametrize("family", FEW)
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("server_kind", ["default", "keyed", "configured", "bound_any", "bound_lan"])
def test_host_header(request: pytest.FixtureRequest, server_kind: str, host: str | None, family: str) -> None:
    server: ServerThread = request.getfixturevalue(server_kind)
    headers = {"Authorization": f"Bearer {KEY}"} if server_kind == "keyed" else {}
    r = route_call(server, family, headers, host=host)
    if not host_expected(server_kind, host):
        assert r.refused_by("DNS rebinding"), (r.status, r.body[:200])
        assert dialect_shape_ok(ROUTES[family][1], r.json()) and r.cors == {}
        return
    assert not r.refused_by("DNS rebinding"), r.body[:200]
    admin = ROUTES[family][3]
    local = bool(host) and is_loopback(_name(host or ""))  # admin.py also wants a Host, and a loopback one
    bound = {"bound_lan": "192.168.1.20", "bound_any": "0.0.0.0"}.get(server_kind)
    if admin and not local and _name(host or "") != bound:
        assert r.status == 403  # admin.py's own rule: a loopback client must have asked for a loopback name
    else:
        assert r.status == 200, (r.status, r.body[:200])


@pytest.mark.parametrize("host", ["evil.com", "attacker.com:8095", "127.0.0.1.evil.com"])
@pytest.mark.parametrize("family", ["chat", "messages", "count-messages", "models"])
def test_with_an_api_key_a_foreign_host_still_needs_the_key(keyed: ServerThread, host: str, family: str) -> None:
    r = route_call(keyed, family, host=host)
    assert r.status == 401 and not r.refused_by("DNS rebinding")
    assert route_call(keyed, family, {"x-api-key": KEY}, host=host).status == 200


@pytest.mark.parametrize("origin", ["http://localhost:3000", "https://[::1]:1"])
def test_a_401_is_readable_by_an_allowed_origin_only(keyed: ServerThread, origin: str) -> None:
    r = route_call(keyed, "chat", {"Origin": origin})
    assert r.status == 401 and r.headers["access-control-allow-origin"] == origin
    r = route_call(keyed, "chat")
    assert r.status == 401 and r.cors == {}  # no more `*`
    r = route_call(keyed, "chat", {"Origin": "http://evil.com"})
    assert r.refused_by("web origin") and r.cors == {}


def test_a_lan_console_is_same_origin_with_itself(bound_lan: ServerThread) -> None:
    """Origin = the accepted Host: the proxy's own page opened by its LAN address."""
    own = "http://192.168.1.20:8095"
    r = route_call(bound_lan, "models", {"Origin": own}, host="192.168.1.20:8095")
    assert r.status == 200 and r.headers["access-control-allow-origin"] == own
    r = route_call(bound_lan, "models", {"Origin": "http://192.168.1.20:9999"}, host="192.168.1.20:8095")
    assert r.refused_by("web origin")
    # same-origin with a refused Host is no way in (the rebinding page is same-origin with itself)
    r = route_call(bound_lan, "models", {"Origin": "http://evil.com:8095"}, host="evil.com:8095")
    assert r.refused_by("DNS rebinding")


# ------------------------------------------------------------------------------------ console content types

CONTENT_TYPES = [
    ("application/json", True), ("application/json; charset=utf-8", True), ("APPLICATION/JSON", True),
    ("Application/Json ;charset=UTF-8", True), (" application/json ", True),
    ("text/plain", False), ("text/plain; charset=application/json", False), ("text/plain;application/json", False),
    ("application/jsonp", False), ("application/json-patch+json", False), ("application/x-www-form-urlencoded", False),
    ("multipart/form-data; boundary=application/json", False), ("application/json, text/plain", False),
    ("application/javascript", False), ("", False), (None, False), ("json", False), ("text/json", False),
]
CONSOLE_POSTS = [("/console/api/requests/clear", {}, 200), ("/console/api/probe", {"model": "test-model"}, 200),
                 ("/console/api/settings", {}, 400)]  # settings: accepted, then "values must be an object"


@pytest.mark.parametrize(("path", "body", "ok_status"), CONSOLE_POSTS)
@pytest.mark.parametrize(("content_type", "accepted"), CONTENT_TYPES)
def test_console_posts_check_the_parsed_media_type(default: ServerThread, path: str, body: Any, ok_status: int,
                                                   content_type: str | None, accepted: bool) -> None:
    r = call(default.port, "POST", path, {"Origin": f"http://127.0.0.1:{default.port}"}, body,
             content_type=content_type)
    if accepted:
        assert r.status == ok_status, (r.status, r.body)
    else:
        assert r.status == 415 and "application/json" in r.json()["error"]["message"]


@pytest.mark.parametrize(("content_type", "accepted"), [
    ("application/x-www-form-urlencoded", True), ("application/x-www-form-urlencoded; charset=UTF-8", True),
    ("text/plain", False), ("text/plain; charset=application/x-www-form-urlencoded", False),
    ("multipart/form-data", False), (None, False)])
def test_console_sign_in_takes_a_form_only(content_type: str | None, accepted: bool) -> None:
    with ServerThread(make_settings(record=False, trace=False, admin_key=ADMIN_KEY),
                      {"scripted": ScriptedBackend()}) as s:
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        body = f"key={ADMIN_KEY}".encode()
        headers = {"Content-Length": str(len(body))} | ({"Content-Type": content_type} if content_type else {})
        conn.request("POST", "/console/login", body, headers)
        r = conn.getresponse()
        assert r.status == (303 if accepted else 415)
        conn.close()


# ------------------------------------------------------------------------------------ trusted proxies

XFF_CASES = [  # X-Forwarded-For -> the client is loopback (console open) when trusted
    (None, True), ("127.0.0.1", True), ("::1", True), ("203.0.113.9", False), ("203.0.113.9, 127.0.0.1", False),
    ("127.0.0.1, 203.0.113.9", False), ("198.51.100.1, 203.0.113.9", False), ("[::1]:5555", True),
    ("127.0.0.1:5555", True), ("not-an-address", False), ("", True),
]


@pytest.fixture(scope="module")
def trusted() -> Iterator[ServerThread]:
    yield from serve(trusted_proxies=("127.0.0.1",), allowed_hosts=("proxy.example.com",), admin_key=ADMIN_KEY)


@pytest.fixture(scope="module")
def untrusted() -> Iterator[ServerThread]:
    yield from serve(trusted_proxies=("10.0.0.0/8",), admin_key=ADMIN_KEY)


@pytest.mark.parametrize("path", ["/debug/requests", "/console/api/overview", "/api/access-logs"])
@pytest.mark.parametrize(("xff", "loopback"), XFF_CASES)
def test_forwarded_for_decides_loopback_only_from_a_trusted_proxy(trusted: ServerThread, untrusted: ServerThread,
                                                                  path: str, xff: str | None, loopback: bool) -> None:
    headers = {} if xff is None else {"X-Forwarded-For": xff}
    assert call(trusted.port, "GET", path, headers).status == (200 if loopback else 403)
    assert call(untrusted.port, "GET", path, headers).status == 200  # peer 127.0.0.1 is not in 10.0.0.0/8
    # the admin key still opens the door for a remote client behind the proxy
    assert call(trusted.port, "GET", path, headers | {"x-admin-key": ADMIN_KEY}).status == 200


@pytest.mark.parametrize(("forwarded_host", "refused"), [
    ("evil.com", True), ("attacker.com:8095", True), ("proxy.example.com", False), ("localhost:8095", False),
    ("evil.com, proxy.example.com", False), ("proxy.example.com, evil.com", True)])
@pytest.mark.parametrize("family", ["chat", "messages", "models"])
def test_forwarded_host_is_checked_only_from_a_trusted_proxy(trusted: ServerThread, untrusted: ServerThread,
                                                             forwarded_host: str, refused: bool, family: str) -> None:
    headers = {"X-Forwarded-Host": forwarded_host}
    assert route_call(trusted, family, headers).refused_by("DNS rebinding") is refused
    assert route_call(untrusted, family, headers).status == 200  # ignored: the real Host is 127.0.0.1


def test_forwarded_host_makes_the_public_origin_same_origin(trusted: ServerThread) -> None:
    headers = {"X-Forwarded-Host": "proxy.example.com", "X-Forwarded-Proto": "https",
               "Origin": "https://proxy.example.com"}
    r = route_call(trusted, "models", headers)
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "https://proxy.example.com"
    assert route_call(trusted, "models", headers | {"Origin": "https://elsewhere.example.com"}).refused_by("web origin")


@pytest.mark.parametrize(("proto", "secure"), [("https", True), ("http", False), (None, False), ("gopher", False),
                                              ("http, https", True)])
def test_forwarded_proto_sets_the_scheme_only_from_a_trusted_proxy(trusted: ServerThread, untrusted: ServerThread,
                                                                   proto: str | None, secure: bool) -> None:
    for server, expected in ((trusted, secure), (untrusted, False)):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        body = f"key={ADMIN_KEY}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if proto:
            headers["X-Forwarded-Proto"] = proto
        conn.request("POST", "/console/login", body, headers)
        r = conn.getresponse()
        assert r.status == 303
        assert ("Secure" in (r.getheader("set-cookie") or "")) is expected
        conn.close()


# ------------------------------------------------------------------------------------ settings

@pytest.mark.parametrize(("key", "value", "expected"), [
    ("allowed_origins", "https://App.Example.com/, http://localhost:*",
     ("https://app.example.com", "http://localhost:*")),
    ("allowed_origins", ["*"], ("*",)), ("allowed_origins", "null", ("null",)),
    ("allowed_hosts", "Proxy.LAN:8095,[fe80::1]:80,*.example.com", ("proxy.lan", "fe80::1", "*.example.com")),
    ("trusted_proxies", "127.0.0.1, 10.0.0.0/8,::1", ("127.0.0.1/32", "10.0.0.0/8", "::1/128")),
])
def test_settings_are_parsed_and_normalised(tmp_path: Path, key: str, value: Any, expected: tuple[str, ...]) -> None:
    assert getattr(load_settings({key: value}, {}, tmp_path, tmp_path), key) == expected
    if isinstance(value, str):
        env = {"LINGMA_PROXY_" + key.upper(): value}
        assert getattr(load_settings({}, env, tmp_path, tmp_path), key) == expected


@pytest.mark.parametrize(("key", "value"), [
    ("allowed_origins", "app.example.com"), ("allowed_origins", "https://app.example.com/path"),
    ("allowed_origins", "http//x"), ("allowed_hosts", "http://proxy.lan"), ("allowed_hosts", "a b"),
    ("trusted_proxies", "localhost"), ("trusted_proxies", "10.0.0.0/33"), ("trusted_proxies", "*"),
])
def test_bad_settings_name_the_key(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings({key: value}, {}, tmp_path, tmp_path)
    assert e.value.key == key and key in str(e.value)


def test_the_console_applies_allowed_origins_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    fake = FakeOpenAIUpstream().start_thread()
    try:
        settings = load_settings({"backend": "openai", "openai_base_url": fake.base_url, "data_dir": str(tmp_path),
                                  "record": False}, {}, tmp_path, tmp_path)
        with ServerThread(settings) as s:
            page = {"Origin": "https://app.example.com"}
            assert call(s.port, "GET", "/v1/models", page).refused_by("web origin")
            r = call(s.port, "POST", "/console/api/settings", {},
                     {"values": {"allowed_origins": ["https://app.example.com"], "allowed_hosts": "proxy.lan"}})
            assert r.status == 200, r.body
            assert "allowed_origins" not in r.json()["needs_process_restart"]
            assert call(s.port, "GET", "/v1/models", page).status == 200
            assert call(s.port, "GET", "/v1/models", host="proxy.lan").status == 200
            assert call(s.port, "GET", "/v1/models", host="evil.com").refused_by("DNS rebinding")
    finally:
        fake.stop_thread()


# ------------------------------------------------------------------------------------ recording


def test_a_refused_page_is_recorded_like_any_request() -> None:
    with ServerThread(make_settings(record=False, trace=False), {"scripted": ScriptedBackend()}) as s:
        assert route_call(s, "chat", {"Origin": "http://evil.com"}).refused_by("web origin")
        assert route_call(s, "messages", host="evil.com").refused_by("DNS rebinding")
        # not recorded: preflights (as ever) and refusals of the console's own paths
        assert call(s.port, "OPTIONS", "/v1/responses", {"Origin": "http://evil.com",
                                                         "Access-Control-Request-Method": "POST"}).status == 403
        assert call(s.port, "GET", "/debug/requests", {"Origin": "http://evil.com"}).status == 403
        rows = call(s.port, "GET", "/debug/requests").json()["requests"]
        assert sorted((r["path"], r["statusCode"]) for r in rows) == [("/v1/chat/completions", 403),
                                                                      ("/v1/messages", 403)]
        text = orjson.dumps(rows).decode()
        assert "web origin 'http://evil.com'" in text and "DNS rebinding" in text
