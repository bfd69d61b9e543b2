"""Upstream faults on every path (issue #10, slice B1), through the real server.

Every fault mode x client API (Chat, Responses, Messages) x stream / non-stream x backend
(OpenAI-compatible, Anthropic passthrough, Anthropic translated, Lingma remote), with fake
upstreams that misbehave on purpose. Each case asserts, with raw HTTP, the status and the
error in the client's own dialect (the body, or the mid-stream error event); with the
official SDK, the error class it raises; and the record the observers get (status, error).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from fakes.anthropic_upstream import AReply, FakeAnthropicUpstream, error_frame, text_frames
from fakes.lingma_remote import Account, Fault, LingmaRemoteEmulator, Reply as LReply
from fakes.openai_upstream import FakeOpenAIUpstream, Reply
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.backends.lingma.remote import RemoteBackend
from lingma_proxy.backends.openai_compat import OpenAICompatBackend
from lingma_proxy.config import Route
from lingma_proxy.exchange import Exchange
from server_harness import ServerThread, make_settings

FIRST_BYTE = 0.2  # the first-byte timeout of the backend behind the "tiny-*" model names
SLOW_OK = 5.0  # ... and of the others (the machine is shared: 0.2 s is too tight for every case)
LATE = 1.2  # how late the fakes' slow answers are (well past FIRST_BYTE)
KEY = "sk-ant-api03-client-0123456789abcdef"
APIS = ("chat", "responses", "messages")
# The Responses dialect's error "type" for a ProxyError kind (its bodies; events carry the kind).
RESPONSES_TYPE = {"api_error": "server_error", "overloaded_error": "server_error", "timeout_error": "server_error",
                  "not_found_error": "invalid_request_error"}
HTML = "<!DOCTYPE html><html><head><title>{t}</title></head><body><h1>{t}</h1></body></html>"


@dataclass(frozen=True)
class Case:
    """What a client must see for one fault: ``status`` and ``kind`` (a ProxyError kind) when the
    error comes before any output; ``late``: after output began, so a streaming client gets a
    200 with a mid-stream error event (the record still shows ``status``). ``kept``: the
    upstream's own Anthropic error JSON reaches a passthrough client byte for byte."""

    status: int
    kind: str
    needle: str | tuple[str, ...] = ""  # in the error message (any of them)
    late: bool = False
    kept: bool = False


# ----------------------------------------------------------------------------- fault tables
# name -> (expected, reply factory(stream)); a factory returning None: not applicable.

ReplyFor = Callable[[bool], Any]

OPENAI_COMPLETION = {"id": "c1", "object": "chat.completion", "created": 1, "model": "fake-model",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "a whole answer here"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
OPENAI_ERROR_EVENT = (
    b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    b'[{"index":0,"delta":{"role":"assistant","content":"par"},"finish_reason":null}]}\n\n',
    b'data: {"error":{"message":"model crashed","type":"server_error"}}\n\n',
)

OPENAI_FAULTS: dict[str, tuple[Case, ReplyFor]] = {
    "html_500": (Case(502, "api_error", "HTML page"), lambda s: Reply.html(500, "500 Internal Server Error")),
    "html_502": (Case(502, "api_error", "502 Bad Gateway"), lambda s: Reply.html(502)),
    "html_200": (Case(502, "api_error", "text/html"),
                 lambda s: Reply(body=HTML.format(t="Welcome").encode(), content_type="text/html")),
    "empty_200": (Case(502, "api_error", "empty body"), lambda s: Reply(body=b"", content_type="application/json")),
    "garbage_200": (Case(502, "api_error", "instead of an event stream"),
                    lambda s: Reply(body=b"\x00\x01 garbage, not an answer", content_type="text/plain")),
    "error_200": (Case(502, "api_error", "model crashed"),
                  lambda s: Reply.json({"error": {"message": "model crashed", "type": "server_error"}})),
    "cut_json": (Case(502, "api_error", "closed the stream"),
                 lambda s: Reply.json(OPENAI_COMPLETION, truncate_after=40)),
    "cut_json_eof": (Case(502, "api_error", "invalid JSON"),
                     lambda s: Reply.json(OPENAI_COMPLETION, truncate_after=40, drop_mode="eof")),
    "cut_stream": (Case(502, "api_error", "closed the stream", late=True),
                   lambda s: Reply.of_text("a", "b", "c", "d", drop_after=3)),
    "cut_stream_eof": (Case(502, "api_error", "closed the stream", late=True),
                       lambda s: Reply.of_text("a", "b", "c", "d", drop_after=3, drop_mode="eof")),
    "first_byte": (Case(504, "timeout_error", "first-byte timeout"),
                   lambda s: Reply(text=["late"], first_byte_delay=LATE)),
    "first_byte_json": (Case(504, "timeout_error", "first-byte timeout"),
                        lambda s: Reply.json(OPENAI_COMPLETION, first_byte_delay=LATE)),
    "header_delay": (Case(504, "timeout_error", "first-byte timeout"),
                     lambda s: Reply(text=["late"], header_delay=LATE)),
    "error_event": (Case(502, "api_error", "model crashed", late=True), lambda s: Reply.raw_sse(*OPENAI_ERROR_EVENT)),
    "rate_limit": (Case(429, "rate_limit_error", "slow down"), lambda s: Reply.error(429, "slow down")),
    "overloaded": (Case(529, "overloaded_error", "busy"), lambda s: Reply.error(503, "busy")),
    "bad_request": (Case(400, "invalid_request_error", "bad field"), lambda s: Reply.error(400, "bad field")),
}

ANTHROPIC_MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                     "content": [{"type": "text", "text": "a whole answer, long enough to be cut"}],
                     "stop_reason": "end_turn", "stop_sequence": None,
                     "usage": {"input_tokens": 3, "output_tokens": 4}}
FRAMES = text_frames("Hello from Anthropic")
CUT = len(b"".join(FRAMES[:4])) + 10  # inside the second text delta


def _sse_or_json(sse: Callable[[], AReply], json: Callable[[], AReply]) -> ReplyFor:
    return lambda stream: sse() if stream else json()


ANTHROPIC_FAULTS: dict[str, tuple[Case, ReplyFor]] = {
    "html_500": (Case(502, "api_error", "500 Internal Server Error"),
                 lambda s: AReply.html(500, "500 Internal Server Error")),
    "html_502": (Case(502, "api_error", "502 Bad Gateway"), lambda s: AReply.html(502)),
    "html_503": (Case(529, "overloaded_error", "503"), lambda s: AReply.html(503, "503 Service Unavailable")),
    "html_404": (Case(404, "not_found_error", "404"), lambda s: AReply.html(404, "404 Not Found")),
    "html_200": (Case(502, "api_error", "text/html"), lambda s: AReply.html(200, "Welcome")),
    "empty_200": (Case(502, "api_error", "empty body"), lambda s: AReply.raw(b"")),
    "garbage_200": (Case(502, "api_error", "garbage"),
                    lambda s: AReply.raw(b"\x00\x01 garbage, not an answer", content_type="text/plain")),
    "not_a_message": (Case(502, "api_error", "not an Anthropic API answer"), lambda s: AReply.json({"ok": True})),
    "error_200": (Case(529, "overloaded_error", "Overloaded"),
                  lambda s: AReply.error(200, "overloaded_error", "Overloaded")),
    "error_200_api": (Case(502, "api_error", "Internal server error"),
                      lambda s: AReply.error(200, "api_error", "Internal server error")),
    "cut_json": (Case(502, "api_error", "closed the stream"),
                 lambda s: AReply.json(ANTHROPIC_MESSAGE, truncate_after=40)),
    "cut_json_eof": (Case(502, "api_error", "cut short"),
                     lambda s: AReply.json(ANTHROPIC_MESSAGE, truncate_after=40, truncate_mode="eof")),
    "cut_stream": (Case(502, "api_error", "closed the stream", late=True),
                   _sse_or_json(lambda: AReply.sse(FRAMES, truncate_after=CUT),
                                lambda: AReply.json(ANTHROPIC_MESSAGE, truncate_after=60))),
    "cut_stream_eof": (Case(502, "api_error", ("before message_stop", "cut short"), late=True),
                       _sse_or_json(lambda: AReply.sse(FRAMES[:5], truncate_after=10**6, truncate_mode="eof"),
                                    lambda: AReply.json(ANTHROPIC_MESSAGE, truncate_after=60, truncate_mode="eof"))),
    "first_byte": (Case(504, "timeout_error", "first-byte timeout"),
                   _sse_or_json(lambda: AReply.sse(FRAMES, first_byte_delay=LATE),
                                lambda: AReply.json(ANTHROPIC_MESSAGE, first_byte_delay=LATE))),
    "header_delay": (Case(504, "timeout_error", "first-byte timeout"),
                     _sse_or_json(lambda: AReply.sse(FRAMES, header_delay=LATE),
                                  lambda: AReply.json(ANTHROPIC_MESSAGE, header_delay=LATE))),
    "error_event": (Case(529, "overloaded_error", "Overloaded", late=True),
                    _sse_or_json(lambda: AReply.sse(FRAMES[:4] + [error_frame("overloaded_error", "Overloaded")]),
                                 lambda: AReply.error(529, "overloaded_error", "Overloaded"))),
    "rate_limit": (Case(429, "rate_limit_error", "slow down", kept=True),
                   lambda s: AReply.error(429, "rate_limit_error", "slow down")),
    "overloaded": (Case(529, "overloaded_error", "Overloaded", kept=True),
                   lambda s: AReply.error(529, "overloaded_error", "Overloaded")),
    "bad_request": (Case(400, "invalid_request_error", "bad field", kept=True),
                    lambda s: AReply.error(400, "invalid_request_error", "bad field")),
    "auth": (Case(401, "authentication_error", "invalid x-api-key", kept=True),
             lambda s: AReply.error(401, "authentication_error", "invalid x-api-key")),
}

LINGMA_FAULTS: dict[str, tuple[Case, ReplyFor]] = {
    "html_200": (Case(401, "authentication_error", "HTML page"), lambda s: LReply.html()),
    "http_500": (Case(502, "api_error", "HTTP 500"), lambda s: LReply.http(500)),
    "http_503": (Case(529, "overloaded_error", "HTTP 503"), lambda s: LReply.http(503)),
    "rate_limit": (Case(429, "rate_limit_error", "HTTP 429"), lambda s: LReply.http(429)),
    "empty_200": (Case(502, "api_error", "before it finished"), lambda s: LReply.http(200)),
    "cut_stream": (Case(502, "api_error", "before it finished", late=True),
                   lambda s: LReply.of_text("a", "b", "c", fault=Fault.drop(after=2))),
    "first_byte": (Case(504, "timeout_error", "first-byte"), lambda s: LReply.of_text("late", delay=LATE)),
    "stall_mid_stream": (Case(504, "timeout_error", "sent nothing more", late=True),
                         lambda s: LReply.of_text("a", "b", "c", fault=Fault.stall(after=2, seconds=LATE))),
}


# ----------------------------------------------------------------------------- servers


def _observe(server: ServerThread) -> list[Exchange]:
    seen: list[Exchange] = []
    server.app.state.relay.observers.append(seen.append)
    return seen


@dataclass
class Rig:
    server: ServerThread
    seen: list[Exchange]
    queue: Callable[..., None]
    model: str

    def model_for(self, case: Case) -> str:
        """Timeout cases go to the backend with the tiny first-byte timeout."""
        return "tiny-" + self.model if case.kind == "timeout_error" else self.model


def _serve(name: str, model: str, make: Callable[[float], Any]) -> ServerThread:
    """A server with two backends on one upstream: ``name`` (timeouts of SLOW_OK) and, for
    model names ``tiny-*``, ``<name>_tiny`` (first-byte timeout FIRST_BYTE)."""
    routes = (Route("tiny-*", name + "_tiny", model),)
    settings = make_settings(backend=name, trace=False, routes=routes)
    return ServerThread(settings, {name: make(SLOW_OK), name + "_tiny": make(FIRST_BYTE)})


@pytest.fixture(scope="module")
def openai_rig() -> Iterator[Rig]:
    fake = FakeOpenAIUpstream().start_thread()
    try:
        with _serve("openai", "fake-model", lambda t: OpenAICompatBackend(
                "openai", fake.base_url, default_model="fake-model", first_byte_timeout=t)) as s:
            yield Rig(s, _observe(s), fake.queue, "fake-model")
    finally:
        fake.stop_thread()


@pytest.fixture(scope="module")
def anthropic_rig() -> Iterator[Rig]:
    fake = FakeAnthropicUpstream().start_thread()
    try:
        with _serve("anthropic", "claude-test", lambda t: AnthropicBackend(
                "anthropic", fake.url, default_model="claude-test", first_byte_timeout=t)) as s:
            yield Rig(s, _observe(s), fake.queue, "claude-test")
    finally:
        fake.stop_thread()


@pytest.fixture(scope="module")
def lingma_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    emu = LingmaRemoteEmulator().start_thread()
    creds = _credentials(tmp_path_factory.mktemp("lingma") / "credentials.json", Account())

    def make(t: float) -> RemoteBackend:
        return RemoteBackend("remote", base_url=emu.url, auth_file=str(creds), fallback=False, default_model="kmodel",
                             first_byte_timeout=t, remember_host=False, home=creds.parent)

    try:
        with _serve("remote", "kmodel", make) as s:
            yield Rig(s, _observe(s), emu.queue, "kmodel")
    finally:
        emu.stop_thread()


def _credentials(path: Path, account: Account) -> Path:
    path.write_bytes(orjson.dumps({"source": "test", "auth": {
        "cosy_key": account.cosy_key, "encrypt_user_info": account.encrypt_user_info,
        "user_id": account.user_id, "machine_id": account.machine_id}}))
    return path


# ----------------------------------------------------------------------------- the client side


def _request(api: str, model: str, stream: bool) -> tuple[str, dict[str, Any]]:
    if api == "chat":
        return "/v1/chat/completions", {"model": model, "stream": stream,
                                        "messages": [{"role": "user", "content": "hi"}]}
    if api == "responses":
        return "/v1/responses", {"model": model, "stream": stream, "input": "hi"}
    return "/v1/messages", {"model": model, "stream": stream, "max_tokens": 64,
                            "messages": [{"role": "user", "content": "hi"}]}


def _body_error(api: str, body: Any) -> tuple[str, str]:
    """(type, message) of an error body in ``api``'s shape; fails on any other shape."""
    if api == "messages":
        assert body["type"] == "error" and set(body) == {"type", "error"}, body
    err = body["error"]
    assert isinstance(err["message"], str) and err["message"], body
    return err["type"], err["message"]


def _stream_error(api: str, raw: bytes) -> tuple[str, str] | None:
    """(kind, message) of the mid-stream error event in ``api``'s grammar, if there is one."""
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        event, data = "", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data += line[5:].strip()
        if not data or data == b"[DONE]":
            continue
        doc = orjson.loads(data)
        if api == "messages" and event == "error":
            return _body_error(api, doc)
        if api == "chat" and isinstance(doc, dict) and "error" in doc:
            return doc["error"]["type"], doc["error"]["message"]
        if api == "responses" and doc.get("type") == "error":
            return doc["error"]["type"], doc["message"]
    return None


def _expected_type(api: str, kind: str, in_body: bool) -> str:
    return RESPONSES_TYPE.get(kind, kind) if api == "responses" and in_body else kind


def _record(rig: Rig, before: int) -> Exchange:
    deadline = time.monotonic() + 5
    while len(rig.seen) <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(rig.seen) > before, "no record"
    return rig.seen[before]


def _check(rig: Rig, api: str, stream: bool, case: Case, reply: Any) -> None:
    path, body = _request(api, rig.model_for(case), stream)
    rig.queue(reply)
    before = len(rig.seen)
    t0 = time.monotonic()
    r = httpx.post(rig.server.url + path, json=body, headers={"x-api-key": KEY, "authorization": f"Bearer {KEY}"},
                   timeout=10)
    took = time.monotonic() - t0
    if case.status == 504:
        assert took < LATE, f"the first-byte timeout took {took:.2f} s"
    if stream and case.late:
        assert r.status_code == 200
        got = _stream_error(api, r.content)
        assert got is not None, r.content[-500:]
        etype, message = got
        assert etype == case.kind
    else:
        assert r.status_code == case.status, (r.status_code, r.text[:500])
        assert r.headers["content-type"].startswith("application/json")
        etype, message = _body_error(api, r.json())
        assert etype == _expected_type(api, case.kind, True)
    assert _has(message, case.needle), message
    assert "<" not in message and "Traceback" not in r.text
    ex = _record(rig, before)
    assert ex.status == case.status and ex.error, (ex.status, ex.error)
    assert _has(ex.error, case.needle), ex.error


def _has(text: str, needle: str | tuple[str, ...]) -> bool:
    return any(n in text for n in ((needle,) if isinstance(needle, str) else needle))


def _sdk_raises(rig: Rig, api: str, stream: bool, case: Case, reply: Any) -> None:
    """The official SDK raises the error class that fits (a status error before any output, the
    SDK's stream error after)."""
    rig.queue(reply)
    url = rig.server.url
    if api == "messages":
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=10)
        want: type[Exception] = _ANTHROPIC_CLASS.get(case.status, anthropic.APIStatusError)
        if stream and case.late:
            want = anthropic.APIStatusError
        with pytest.raises(want) as info:
            kw: dict[str, Any] = {"model": rig.model_for(case), "max_tokens": 64,
                                  "messages": [{"role": "user", "content": "hi"}]}
            if stream:
                with client.messages.stream(**kw) as s:
                    s.get_final_message()
            else:
                client.messages.create(**kw)
        if not (stream and case.late):
            assert info.value.status_code == case.status  # type: ignore[attr-defined]
        return
    oai = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=10)
    owant: type[Exception] = _OPENAI_CLASS.get(case.status, openai.InternalServerError)
    if stream and case.late:
        owant = openai.APIError
    got: Any
    with pytest.raises(owant) as oinfo:
        if api == "chat":
            got = oai.chat.completions.create(model=rig.model_for(case), messages=[{"role": "user", "content": "hi"}],
                                              stream=stream)
        else:
            got = oai.responses.create(model=rig.model_for(case), input="hi", stream=stream)
        if stream:
            for _ in got:
                pass
    if not (stream and case.late):
        assert oinfo.value.status_code == case.status  # type: ignore[attr-defined]


_ANTHROPIC_CLASS: dict[int, type[Exception]] = {
    400: anthropic.BadRequestError, 401: anthropic.AuthenticationError, 404: anthropic.NotFoundError,
    429: anthropic.RateLimitError, 502: anthropic.InternalServerError, 504: anthropic.GatewayTimeoutError,
    529: anthropic.OverloadedError,
}
_OPENAI_CLASS: dict[int, type[Exception]] = {
    400: openai.BadRequestError, 401: openai.AuthenticationError, 404: openai.NotFoundError,
    429: openai.RateLimitError,
}


def _cases(table: dict[str, tuple[Case, ReplyFor]], apis: tuple[str, ...]) -> list[Any]:
    return [pytest.param(name, api, stream, id=f"{name}-{api}-{'stream' if stream else 'json'}")
            for name in table for api in apis for stream in (False, True)]


# ----------------------------------------------------------------------------- the tables


@pytest.mark.parametrize(("fault", "api", "stream"), _cases(OPENAI_FAULTS, APIS))
def test_openai_compatible(openai_rig: Rig, fault: str, api: str, stream: bool) -> None:
    case, reply = OPENAI_FAULTS[fault]
    _check(openai_rig, api, stream, case, reply(stream))
    _sdk_raises(openai_rig, api, stream, case, reply(stream))


@pytest.mark.parametrize(("fault", "api", "stream"), _cases(ANTHROPIC_FAULTS, ("chat", "responses")))
def test_anthropic_translated(anthropic_rig: Rig, fault: str, api: str, stream: bool) -> None:
    case, reply = ANTHROPIC_FAULTS[fault]
    # The translated path always streams upstream: the stream form of each fault applies.
    _check(anthropic_rig, api, stream, case, reply(True))
    _sdk_raises(anthropic_rig, api, stream, case, reply(True))


@pytest.mark.parametrize(("fault", "api", "stream"), _cases(ANTHROPIC_FAULTS, ("messages",)))
def test_anthropic_passthrough(anthropic_rig: Rig, fault: str, api: str, stream: bool) -> None:
    case, reply = ANTHROPIC_FAULTS[fault]
    if case.kept:
        _kept_as_is(anthropic_rig, stream, case, reply(stream))
    else:
        _check(anthropic_rig, api, stream, case, reply(stream))
    _sdk_raises(anthropic_rig, api, stream, case, reply(stream))


@pytest.mark.parametrize(("fault", "api", "stream"), _cases(LINGMA_FAULTS, APIS))
def test_lingma_remote(lingma_rig: Rig, fault: str, api: str, stream: bool) -> None:
    case, reply = LINGMA_FAULTS[fault]
    _check(lingma_rig, api, stream, case, reply(stream))
    _sdk_raises(lingma_rig, api, stream, case, reply(stream))


def _kept_as_is(rig: Rig, stream: bool, case: Case, reply: AReply) -> None:
    """An upstream error already in Anthropic's shape reaches the passthrough client unchanged."""
    path, body = _request("messages", rig.model, stream)
    rig.queue(reply)
    before = len(rig.seen)
    r = httpx.post(rig.server.url + path, json=body, headers={"x-api-key": KEY}, timeout=10)
    assert r.status_code == case.status and r.content == reply.body
    ex = _record(rig, before)
    assert ex.status == case.status and ex.error and _has(ex.error, case.needle)


# ----------------------------------------------------------------------------- what passes


@pytest.mark.parametrize("stream", [False, True])
def test_passthrough_error_event_passes_the_bytes_and_is_recorded(anthropic_rig: Rig, stream: bool) -> None:
    frames = FRAMES[:4] + [error_frame("overloaded_error", "Overloaded")]
    anthropic_rig.queue(AReply.sse(frames))
    before = len(anthropic_rig.seen)
    path, body = _request("messages", "claude-test", True)
    r = httpx.post(anthropic_rig.server.url + path, json=body, headers={"x-api-key": KEY}, timeout=10)
    assert r.status_code == 200 and r.content == b"".join(frames)  # byte for byte, nothing added
    ex = _record(anthropic_rig, before)
    assert ex.status == 529 and ex.error_kind == "overloaded_error" and ex.error == "Overloaded"


@pytest.mark.parametrize("frame_delay", [0.0, 0.01])
def test_passthrough_whole_answers_still_pass(anthropic_rig: Rig, frame_delay: float) -> None:
    anthropic_rig.queue(AReply.sse(FRAMES, frame_delay=frame_delay), AReply.json(ANTHROPIC_MESSAGE))
    for stream in (True, False):
        path, body = _request("messages", "claude-test", stream)
        r = httpx.post(anthropic_rig.server.url + path, json=body, headers={"x-api-key": KEY}, timeout=10)
        assert r.status_code == 200
        assert r.content == (b"".join(FRAMES) if stream else orjson.dumps(ANTHROPIC_MESSAGE))


def test_headers_late_but_body_in_time_is_fine(anthropic_rig: Rig, openai_rig: Rig) -> None:
    """The first-byte timeout restarts nothing: a body that starts in time is not cut later."""
    anthropic_rig.queue(AReply.sse(FRAMES, frame_delay=FIRST_BYTE / 2, first_byte_delay=FIRST_BYTE / 2))
    path, body = _request("messages", "claude-test", True)
    r = httpx.post(anthropic_rig.server.url + path, json=body, headers={"x-api-key": KEY}, timeout=10)
    assert r.status_code == 200 and r.content == b"".join(FRAMES)
    openai_rig.queue(Reply.of_text("a", "b", first_byte_delay=FIRST_BYTE / 2, chunk_delay=FIRST_BYTE * 1.5))
    c = openai.OpenAI(base_url=openai_rig.server.url + "/v1", api_key=KEY, max_retries=0, timeout=10)
    out = c.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "ab"


@pytest.mark.parametrize("secret_in", ["html_500", "error_200", "html_200"])
def test_upstream_error_text_is_scrubbed(secret_in: str) -> None:
    """Upstream error text passes one scrub: the configured key and URL credentials never reach
    the client, whatever the upstream quotes."""
    key = "sk-ant-api03-configured-SECRET-9876543210"
    quote = f"key {key} at https://user:pw@internal.example/x?token=abc"
    replies = {"html_500": AReply.html(500, quote), "error_200": AReply.error(200, "api_error", quote),
               "html_200": AReply.html(200, quote)}
    fake = FakeAnthropicUpstream().start_thread()
    backend = AnthropicBackend("anthropic", fake.url, key, first_byte_timeout=SLOW_OK)
    try:
        with ServerThread(make_settings(backend="anthropic", trace=False), {"anthropic": backend}) as s:
            for api in ("messages", "chat"):
                fake.queue(replies[secret_in])
                path, body = _request(api, "claude-test", False)
                r = httpx.post(s.url + path, json=body, headers={"x-api-key": KEY}, timeout=10)
                assert r.status_code >= 400
                assert key not in r.text and "pw@" not in r.text and "token=abc" not in r.text
                assert "internal.example/x" in r.text  # the rest of the text stays readable
    finally:
        fake.stop_thread()
