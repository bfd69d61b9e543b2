"""Door limits through the real server (docs/limits.md): JSON nesting, integers beyond 64 bits and
out-of-range numeric fields get a 400 in the client's dialect naming the limit and the path, on
all five generation/count endpoints, streaming or not, on the OpenAI-compatible and the Anthropic
backend (byte passthrough included); what is accepted always serializes (never a 5xx); and every
early failure (limits, bad JSON, 413, 401, 404/405, count errors) reaches the observers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from fakes.anthropic_upstream import FakeAnthropicUpstream
from fakes.openai_upstream import FakeOpenAIUpstream
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.config import BackendConfig
from lingma_proxy.dialects.limits import MAX_DEPTH
from lingma_proxy.exchange import Exchange
from server_harness import ServerThread, make_settings

MARK = b'"@@DEEP@@"'
CASE = "x-test-case"
GEN = ("/v1/chat/completions", "/v1/responses", "/v1/messages")
COUNT = ("/v1/responses/input_tokens", "/v1/messages/count_tokens")
ANTHROPIC_PATHS = ("/v1/messages", "/v1/messages/count_tokens")
_ids = itertools.count()


class Served:
    def __init__(self, name: str, server: ServerThread) -> None:
        self.name, self.server = name, server
        self.seen: dict[str, Exchange] = {}
        server.app.state.relay.observers.append(self._observe)
        self.http = httpx.Client(base_url=server.url, timeout=20)

    def _observe(self, ex: Exchange) -> None:
        case = {k.lower(): v for k, v in ex.request_headers.items()}.get(CASE)
        if case is not None:
            self.seen[case] = ex

    def post(self, path: str, raw: bytes, **headers: str) -> tuple[httpx.Response, str]:
        case = f"c{next(_ids)}"
        r = self.http.post(path, content=raw, headers={"content-type": "application/json", CASE: case, **headers})
        return r, case


@pytest.fixture(scope="module")
def backends() -> Iterator[list[Served]]:
    fo = FakeOpenAIUpstream().start_thread()
    fa = FakeAnthropicUpstream().start_thread()
    s1 = ServerThread(make_settings(backend="openai", openai_base_url=fo.base_url, trace=False, record=False,
                                    backends=(BackendConfig("openai", "openai", fo.base_url),)))
    s2 = ServerThread(make_settings(backend="anthropic", trace=False, record=False),
                      {"anthropic": AnthropicBackend("anthropic", fa.url, "sk-ant-test", first_byte_timeout=10)})
    try:
        with s1, s2:
            yield [Served("openai", s1), Served("anthropic", s2)]
    finally:
        fo.stop_thread()
        fa.stop_thread()


# ------------------------------------------------------------------ bodies with a marked spot


def _msgs(stream: bool, **kw: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 32, "stream": stream, "messages": [{"role": "user", "content": "hi"}], **kw}


def _chat(stream: bool, **kw: Any) -> dict[str, Any]:
    return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}], **kw}


def _resp(stream: bool, **kw: Any) -> dict[str, Any]:
    return {"model": "m", "stream": stream, "input": "hi", **kw}


M = "@@DEEP@@"
TOOL_TURN = [
    {"role": "user", "content": "run it"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"q": "x"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                  "content": [{"type": "text", "text": "ok", "x_extra": M}]}]},
]
FIELDS: dict[str, dict[str, Any]] = {  # field kind -> dialect family -> template (stream added later)
    "tool_schema": {
        "chat": lambda s: _chat(s, tools=[{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": M}}}}]),
        "responses": lambda s: _resp(s, tools=[{"type": "function", "name": "f", "parameters": {
            "type": "object", "properties": {"a": M}}}]),
        "messages": lambda s: _msgs(s, tools=[{"name": "f", "input_schema": {"type": "object", "properties": {"a": M}}}]),
    },
    "metadata": {
        "chat": lambda s: _chat(s, metadata={"k": M}),
        "responses": lambda s: _resp(s, metadata={"k": M}),
        "messages": lambda s: _msgs(s, metadata={"user_id": "u", "k": M}),
    },
    "unknown_field": {
        "chat": lambda s: _chat(s, x_vendor={"k": M}),
        "responses": lambda s: _resp(s, x_vendor={"k": M}),
        "messages": lambda s: _msgs(s, x_vendor={"k": M}),
    },
    "content": {  # inside a message's content part / input item / tool result
        "chat": lambda s: _chat(s, messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "x": M}]}]),
        "responses": lambda s: _resp(s, input=[{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "hi", "x": M}]}]),
        "messages": lambda s: {**_msgs(s), "messages": TOOL_TURN},
    },
}
FAMILY = {"/v1/chat/completions": "chat", "/v1/responses": "responses", "/v1/responses/input_tokens": "responses",
          "/v1/messages": "messages", "/v1/messages/count_tokens": "messages"}


def _depth_of_mark(value: Any, depth: int = 0) -> int | None:
    if value == M:
        return depth
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for v in items:
        if (d := _depth_of_mark(v, depth + 1)) is not None:
            return d
    return None


def nested_body(field: str, path: str, stream: bool, total: int) -> bytes:
    """The template's marked spot replaced by nested objects so the body is ``total`` levels deep."""
    body = FIELDS[field][FAMILY[path]](stream)
    if path in COUNT:
        body.pop("stream")
    base = _depth_of_mark(body)
    assert base is not None
    k = total - base  # containers in the nested value
    assert k >= 1
    deep = b'{"a":' * (k - 1) + b"{}" + b"}" * (k - 1)
    return orjson.dumps(body).replace(MARK, deep)


def assert_dialect_error(r: httpx.Response, path: str, status: int = 400) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    if path.startswith("/v1/messages"):  # Anthropic's shape on its paths, OpenAI's elsewhere
        assert body["type"] == "error" and isinstance(body["error"]["type"], str)
        return str(body["error"]["message"])
    assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    return str(body["error"]["message"])


def assert_success(r: httpx.Response, path: str, stream: bool) -> None:
    assert r.status_code == 200, (r.status_code, r.text[:300])
    if not stream:
        r.json()
        return
    text = r.text
    end = {"/v1/chat/completions": "[DONE]", "/v1/responses": "response.completed", "/v1/messages": "message_stop"}
    assert end[path] in text, text[-400:]
    assert "event: error" not in text


# ------------------------------------------------------------------ nesting

DEPTHS = (MAX_DEPTH - 3, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2, 200, 254, 255, 300, 1100)
MODES = [(p, False) for p in GEN + COUNT] + [(p, True) for p in GEN]


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize(("path", "stream"), MODES, ids=[f"{p}-{'stream' if s else 'json'}" for p, s in MODES])
def test_nesting_limit_on_every_endpoint_field_and_backend(backends: list[Served], field: str, path: str,
                                                           stream: bool) -> None:
    for served, depth in itertools.product(backends, DEPTHS):
        raw = nested_body(field, path, stream, depth)
        r, case = served.post(path, raw)
        where = f"{served.name} {path} {field} depth {depth}"
        if depth <= MAX_DEPTH:
            assert_success(r, path, stream)
            continue
        message = assert_dialect_error(r, path)
        assert f"deeper than {MAX_DEPTH} levels" in message, where
        if depth <= 1024:  # orjson itself reads 1,024 levels; past that the position is named
            prefix = message.split(":")[0]
            top = {"tool_schema": "tools[0]", "metadata": "metadata", "unknown_field": "x_vendor",
                   "content": "messages[" if FAMILY[path] != "responses" else "input[0]"}[field]
            assert prefix.startswith(top), (where, prefix)
            assert prefix.endswith(".a") or "..." in prefix, (where, prefix)
            if path not in ANTHROPIC_PATHS:
                assert r.json()["error"]["param"] == prefix
        else:
            assert "char " in message, where
        ex = served.seen.get(case)
        assert ex is not None and ex.status == 400 and ex.error == message, where
        assert ex.path == path


# ------------------------------------------------------------------ numbers

INT_TOKENS = (1, 2**31 - 1)  # inclusive bounds of every token count
FIELD_SPECS: dict[str, list[tuple[str, bool, float, float]]] = {  # family -> (field, integer, lo, hi)
    "chat": [("max_tokens", True, *INT_TOKENS), ("max_completion_tokens", True, *INT_TOKENS),
             ("temperature", False, 0, 2), ("top_p", False, 0, 1), ("n", True, 1, 1),
             ("presence_penalty", False, -2, 2), ("frequency_penalty", False, -2, 2)],
    "responses": [("max_output_tokens", True, *INT_TOKENS), ("temperature", False, 0, 2), ("top_p", False, 0, 1),
                  ("top_logprobs", True, 0, 20)],
    "messages": [("max_tokens", True, *INT_TOKENS), ("temperature", False, 0, 1), ("top_p", False, 0, 1),
                 ("top_k", True, 0, 2**31 - 1), ("thinking.budget_tokens", True, 0, 2**31 - 1)],
}
# raw JSON literals: huge, 64-bit edges, negative, fractional, wrong types, sane values
LITERALS = ("1e300", "-1e300", "18446744073709551616", "9223372036854775808", "2147483648", "1e20", "-5", "0",
            "1", "0.5", "1.5", "16", "2", '"10"', "true", "[]")


def _accepts(literal: str, integer: bool, lo: float, hi: float, integral_floats: bool) -> bool:
    value = orjson.loads(literal)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if integer and isinstance(value, float) and not (integral_floats and value.is_integer()):
        return False
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return False
    return lo <= value <= hi


def _numbers_body(family: str, field: str, literal: str, count: bool) -> bytes:
    if family == "messages":
        body: dict[str, Any] = _msgs(False)
        if field == "thinking.budget_tokens":
            body["thinking"] = {"type": "enabled", "budget_tokens": M}
            body["max_tokens"] = 4096
        else:
            body[field] = M
    else:
        body = (_chat if family == "chat" else _resp)(False, **{field: M})
    if count:
        body.pop("stream")
    return orjson.dumps(body).replace(MARK, literal.encode())


NUMBER_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens")


@pytest.mark.parametrize("path", NUMBER_PATHS)
def test_numeric_fields_in_type_and_range_on_every_api(backends: list[Served], path: str) -> None:
    family = FAMILY[path]
    for served, (field, integer, lo, hi), literal in itertools.product(backends, FIELD_SPECS[family], LITERALS):
        raw = _numbers_body(family, field, literal, path in COUNT)
        r, case = served.post(path, raw)
        where = f"{served.name} {path} {field}={literal}"
        if _accepts(literal, integer, lo, hi, integral_floats=family == "messages"):
            assert r.status_code == 200, (where, r.text[:300])
            continue
        message = assert_dialect_error(r, path)
        assert field in message, (where, message)
        if path in ANTHROPIC_PATHS:
            assert message.startswith(f"{field}: "), (where, message)
        else:
            assert r.json()["error"]["param"] == field, where
        ex = served.seen.get(case)
        assert ex is not None and ex.status == 400 and ex.error == message, where


# integers anywhere in the body: outside the signed 64-bit range -> 400 naming the path
ANYWHERE = {
    "chat": ('{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":{"seed":%s}}', "metadata.seed"),
    "responses": ('{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":'
                  '{"type":"object","properties":{"n":{"type":"integer","maximum":%s}}}}]}',
                  "tools[0].parameters.properties.n.maximum"),
    "messages": ('{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}],'
                 '"x_vendor":{"list":[1,2,%s]}}', "x_vendor.list[2]"),
}
BIG = ("9223372036854775808", "18446744073709551615", "-9223372036854775808", "9223372036854775807",
       "9007199254740993", "18446744073709551616", "1e308")


@pytest.mark.parametrize("path", GEN + COUNT)
@pytest.mark.parametrize("literal", BIG)
def test_integers_outside_64_bits_anywhere(backends: list[Served], path: str, literal: str) -> None:
    template, where_path = ANYWHERE[FAMILY[path]]
    raw = (template % literal).encode()
    refused = literal in ("9223372036854775808", "18446744073709551615")  # read as int beyond int64
    for served in backends:
        r, case = served.post(path, raw)
        if not refused:  # in range, or read as a float by orjson (docs/limits.md)
            assert r.status_code == 200, (served.name, r.text[:300])
            continue
        message = assert_dialect_error(r, path)
        assert message.startswith(f"{where_path}: integer {literal} is outside the signed 64-bit range"), message
        assert served.seen[case].status == 400


# ------------------------------------------------------------------ never a 5xx

try:
    from hypothesis import HealthCheck, given, settings, strategies as st
except ImportError:  # pragma: no cover
    st = None

if st is not None:
    json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                          st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
    json_value = st.recursive(json_leaf, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=12)

    @st.composite
    def request_bodies(draw: Any) -> tuple[str, bytes]:
        path = draw(st.sampled_from(GEN + COUNT))
        family = FAMILY[path]
        base: dict[str, Any] = (_msgs if family == "messages" else _chat if family == "chat" else _resp)(False)
        if path in COUNT:
            base.pop("stream")
        keys = [f[0] for f in FIELD_SPECS[family] if "." not in f[0]] + ["metadata", "tools", "messages", "input",
                                                                         "stream", "x_vendor", "model"]
        for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
            base[key] = M
        raw = orjson.dumps(base)
        while MARK in raw:
            kind = draw(st.sampled_from(["value", "deep", "literal"]))
            if kind == "value":
                piece = json.dumps(draw(json_value)).encode()  # stdlib: integers of any size
            elif kind == "deep":
                k = draw(st.integers(min_value=MAX_DEPTH - 4, max_value=MAX_DEPTH + 140))
                piece = b"[" * k + b"]" * k
            else:
                piece = draw(st.sampled_from(LITERALS + BIG)).encode()
            raw = raw.replace(MARK, piece, 1)
        return path, raw

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=request_bodies(), which=st.integers(min_value=0, max_value=1))
    def test_any_body_succeeds_or_gets_a_4xx_in_the_dialect_shape(backends: list[Served], case: tuple[str, bytes],
                                                                   which: int) -> None:
        path, raw = case
        served = backends[which]
        r, seen = served.post(path, raw)
        assert r.status_code < 500, (served.name, path, raw[:300], r.text[:300])
        if r.status_code >= 400:
            assert_dialect_error(r, path, r.status_code)
            ex = served.seen.get(seen)
            assert ex is not None and ex.status == r.status_code and ex.error


# ------------------------------------------------------------------ early failures are recorded

EARLY = [  # (method, path, body, status)
    ("POST", "/v1/chat/completions", b"{not json", 400),
    ("POST", "/v1/responses", b"", 400),
    ("POST", "/v1/messages", b"[1,2]", 400),
    ("POST", "/v1/messages/count_tokens", b"{not json", 400),
    ("POST", "/v1/responses/input_tokens", b'{"model":"m","input":7}', 400),
    ("POST", "/v1/messages/count_tokens", b'{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":9}', 400),
    ("POST", "/v1/nope", b"{}", 404),
    ("POST", "/v1/messages/nope", b"{}", 404),
    ("GET", "/v1/messages", b"", 405),
    ("GET", "/v1/chat/completions", b"", 405),
    ("DELETE", "/v1/responses", b"", 405),
]


@pytest.mark.parametrize(("method", "path", "raw", "status"), EARLY)
def test_early_failures_reach_the_observers(backends: list[Served], method: str, path: str, raw: bytes,
                                            status: int) -> None:
    for served in backends:
        case = f"e{next(_ids)}"
        r = served.http.request(method, path, content=raw, headers={CASE: case})
        message = assert_dialect_error(r, path, status)
        ex = served.seen.get(case)
        assert ex is not None, (served.name, method, path)
        assert (ex.status, ex.error, ex.path) == (status, message, path)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    fo = FakeOpenAIUpstream().start_thread()
    settings = make_settings(backend="openai", openai_base_url=fo.base_url, trace=False, api_key="sk-door-key",
                             max_body_bytes=4096, data_dir=str(tmp_path_factory.mktemp("rec")),
                             backends=(BackendConfig("openai", "openai", fo.base_url),))
    try:
        with ServerThread(settings) as server:
            yield server
    finally:
        fo.stop_thread()


GUARDED = [  # (path, body, headers, status, error fragment)
    ("/v1/chat/completions", b"{}", {}, 401, "API key"),
    ("/v1/messages", b"{}", {"x-api-key": "wrong"}, 401, "API key"),
    ("/v1/responses/input_tokens", b"{}", {"authorization": "Bearer nope"}, 401, "API key"),
    ("/v1/chat/completions", b"x" * 5000, {"authorization": "Bearer sk-door-key"}, 413, "max_body_bytes"),
    ("/v1/messages", b"x" * 5000, {"x-api-key": "sk-door-key"}, 413, "max_body_bytes"),
    ("/v1/messages/count_tokens", b"x" * 5000, {"x-api-key": "sk-door-key"}, 413, "max_body_bytes"),
    ("/v1/responses", b'{"model":"m","input":"hi","metadata":' + b"[" * 300 + b"]" * 300 + b"}",
     {"x-api-key": "sk-door-key"}, 400, "deeper than"),
    ("/v1/messages", b'{"model":"m","max_tokens":1e300,"messages":[{"role":"user","content":"hi"}]}',
     {"x-api-key": "sk-door-key"}, 400, "max_tokens"),
]


def test_early_failures_are_in_the_recorder_and_the_console(guarded: ServerThread) -> None:
    import time

    with httpx.Client(base_url=guarded.url, timeout=20) as http:
        for path, raw, headers, status, _ in GUARDED:
            r = http.post(path, content=raw, headers={"content-type": "application/json", **headers})
            assert_dialect_error(r, path, status)
        deadline = time.monotonic() + 10
        while True:  # the console API (admin paths: loopback passes)
            rows = http.get("/console/api/requests?limit=100").json()["requests"]
            if len(rows) >= len(GUARDED) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        debug = http.get("/debug/requests?limit=100").json()
    got = sorted((row["path"], row["status"], row["error"] or "") for row in rows)
    want = sorted((p, s, frag) for p, _, _, s, frag in GUARDED)
    assert len(got) == len(want), got
    for (gp, gs, ge), (wp, ws, frag) in zip(got, want, strict=True):
        assert (gp, gs) == (wp, ws) and frag in ge, (got, want)
    assert debug["count"] >= len(GUARDED)
    assert "sk-door-key" not in orjson.dumps(rows).decode()
