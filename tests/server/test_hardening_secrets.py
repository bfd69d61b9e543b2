"""Secrets: one registry, applied everywhere (issue #10, slice C), through the real server.

One server is built from a real config file the way ``lingma-proxy serve`` builds it, with every
kind of secret configured: the client API key, the admin key, the OpenAI-compatible and Anthropic
keys, a key inside a ``backends`` entry of the file, and a Lingma login (the remote backend reads
it from its credentials file). It serves fake upstreams of all of them. Every case quotes one
secret somewhere (a prompt, as is, base64- or URL-encoded; a tool call's arguments and result; a
request header; the upstream's answer; the upstream's error body), on every client API and every
backend, streaming and not. Then everything the proxy wrote or answered is searched for every
secret in each of its spellings: the error bodies clients saw, the SQLite file, the trace files,
the log output (a root handler like caplog, and the log ring), the ``/debug/*`` and console API
answers, and the feedback bundle (console and CLI).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import logging
import socket
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import orjson
import pytest
from click.testing import CliRunner

from fakes.anthropic_upstream import AReply, FakeAnthropicUpstream, text_frames
from fakes.lingma_remote import Account, LingmaRemoteEmulator, Reply as LReply
from fakes.openai_upstream import Call, FakeOpenAIUpstream, Reply
from lingma_proxy.config import load_settings
from server_harness import ServerThread

ACCOUNT = Account(cosy_key="COSY+Kq7/Wm2Xr9Lp4Zt6Vn==", encrypt_user_info="EUI/Hj3Gf8Ds1+Ak5Lq9Zx==",
                  user_id="1000000000007777", machine_id="0123456789abcdef-SECRET-MACHINE")
SECRETS = {
    "api_key": "sk-proxy-client-7Hq2Lm9Xa4Rt8Vb3",
    "admin_key": "adm/Zx81+Qp47:Wc29=Lk63",
    "openai_api_key": "lm-studio-key-5Gh8Jk2Nm4Pq",
    "anthropic_api_key": "sk-ant-api03-Anth9Rk2Lm7Qs4Xv-AA",
    "backend_entry_key": "entry.key~Vb6Nm1Qw8Er3Ty@1",
    "lingma_cosy_key": ACCOUNT.cosy_key,
    "lingma_user_info": ACCOUNT.encrypt_user_info,
}
KINDS = list(SECRETS)
APIS = ["chat", "responses", "messages"]
BACKENDS = {"openai": "gpt-test", "anthropic": "claude-test", "entry": "entry-model", "remote": "kmodel"}
QUOTES = ["prompt", "prompt_base64", "prompt_url", "tool_argument", "header"]  # the client quotes it
UPSTREAM = ["upstream_answer", "upstream_error"]  # the upstream quotes it
ERROR_STATUSES = (400, 401, 403)


def spellings(secret: str) -> set[str]:
    """How a secret could show up: as is, JSON- and URL-encoded, base64 at each alignment."""
    out = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret, safe="")}
    raw = secret.encode()
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode()
        core = enc[(pad * 8 + 5) // 6: (8 * (pad + len(raw))) // 6]
        out |= {core, core.replace("+", "-").replace("/", "_")}
    return out


SPELLINGS = {kind: spellings(s) for kind, s in SECRETS.items()}


def leaks(text: str | bytes) -> list[str]:
    """The kinds of secret found in ``text``, in any spelling."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [f"{kind} (as {form!r})" for kind, forms in SPELLINGS.items() for form in forms if form in text]


@dataclass(frozen=True)
class Case:
    kind: str
    where: str
    api: str
    backend: str
    stream: bool

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.where}-{self.api}-{self.backend}-{'stream' if self.stream else 'json'}"


CASES = [Case(k, w, a, b, False) for k, w, a, b in itertools.product(KINDS, QUOTES, APIS, BACKENDS)]
CASES += [Case(k, w, a, b, s) for k, w, a, b, s in itertools.product(KINDS, UPSTREAM, APIS, BACKENDS, (False, True))]


# ----------------------------------------------------------------------------- requests per dialect


def _text_for(case: Case, marker: str) -> str:
    secret = SECRETS[case.kind]
    if case.where == "prompt_base64":
        return f"{marker}: the key, base64: {base64.b64encode(secret.encode()).decode()}"
    if case.where == "prompt_url":
        return f"{marker}: the key, URL-encoded: ?key={quote(secret, safe='')}"
    if case.where == "prompt":
        return f"{marker}: my key is {secret}, keep it safe"
    return f"{marker}: hello"


def body_for(case: Case, marker: str) -> tuple[str, dict[str, Any]]:
    model, secret, text = BACKENDS[case.backend], SECRETS[case.kind], _text_for(case, marker)
    args = json.dumps({"token_hint": f"use {secret}", "city": "Paris"})
    result = f"the tool printed {secret}"
    tool_history = case.where == "tool_argument"
    if case.api == "chat":
        messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
        if tool_history:
            messages += [{"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": args}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": result}]
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": case.stream}
        if tool_history:
            body["tools"] = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
        return "/v1/chat/completions", body
    if case.api == "responses":
        items: list[dict[str, Any]] = [{"role": "user", "content": text}]
        if tool_history:
            items += [{"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": args},
                      {"type": "function_call_output", "call_id": "call_1", "output": result}]
        body = {"model": model, "input": items, "stream": case.stream, "store": False}
        if tool_history:
            body["tools"] = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
        return "/v1/responses", body
    msgs: list[dict[str, Any]] = [{"role": "user", "content": text}]
    if tool_history:
        msgs += [{"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": json.loads(args)}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result},
                                         {"type": "text", "text": "go on"}]}]
    body = {"model": model, "max_tokens": 64, "messages": msgs, "stream": case.stream}
    if tool_history:
        body["tools"] = [{"name": "lookup", "input_schema": {"type": "object"}}]
    return "/v1/messages", body


# ----------------------------------------------------------------------------- the world


@dataclass
class World:
    server: ServerThread
    openai: FakeOpenAIUpstream
    anthropic: FakeAnthropicUpstream
    remote: LingmaRemoteEmulator
    data_dir: Path
    config: Path
    settings: Any
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # case id -> client-visible answer
    markers: dict[str, str] = field(default_factory=dict)
    admin: dict[str, bytes] = field(default_factory=dict)  # admin URL -> answer
    logs: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)  # every recorded row, as text
    db_bytes: bytes = b""
    traces: dict[str, bytes] = field(default_factory=dict)

    def script_upstream(self, case: Case) -> None:
        secret = SECRETS[case.kind]
        if case.where == "upstream_answer":
            text = f"your key is {secret} (echoed)"
            if case.backend in ("openai", "entry"):
                self.openai.queue(Reply.tools([Call("lookup", json.dumps({"q": secret}))], text=[text]))
            elif case.backend == "anthropic":
                self.anthropic.queue(AReply.sse(text_frames(text, model="claude-test")) if case.stream else
                                     AReply.json({"id": "msg_up", "type": "message", "role": "assistant",
                                                  "model": "claude-test", "content": [{"type": "text", "text": text}],
                                                  "stop_reason": "end_turn", "stop_sequence": None,
                                                  "usage": {"input_tokens": 3, "output_tokens": 5}}))
            else:
                self.remote.queue(LReply.of_text("your key is ", secret, " (echoed)"))
        elif case.where == "upstream_error":
            status = ERROR_STATUSES[len(self.answers) % len(ERROR_STATUSES)]
            message = f"Incorrect API key provided: {secret}. You can find your key at https://x.example"
            if case.backend in ("openai", "entry"):
                self.openai.queue(Reply.error(status, message, type="invalid_request_error"))
            elif case.backend == "anthropic":
                self.anthropic.queue(AReply.error(status, "authentication_error", message))
            else:
                self.remote.queue(LReply.http(status, orjson.dumps(
                    {"success": False, "errorCode": str(status), "errorMessage": message})))

    def run(self, case: Case, client: httpx.Client) -> None:
        marker = f"case{len(self.answers):04d}x"
        self.markers[case.id] = marker
        self.script_upstream(case)
        path, body = body_for(case, marker)
        headers = {"authorization": f"Bearer {SECRETS['api_key']}", "anthropic-version": "2023-06-01"}
        if case.where == "header":
            headers["x-debug-note"] = f"key={SECRETS[case.kind]}"
            headers["user-agent"] = f"agent/1.0 ({SECRETS[case.kind]})"
        r = client.post(self.server.url + path, json=body, headers=headers)
        self.answers[case.id] = (r.status_code, r.content)


class _Capture(logging.Handler):
    """What a log file or pytest's caplog would get: every formatted line, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


ADMIN_URLS = ["/debug/requests?limit=200", "/api/requests?limit=200", "/debug/access-logs?limit=200",
              "/api/access-logs?limit=200", "/debug/logs?limit=2000", "/api/logs?limit=2000",
              "/console/api/overview", "/console/api/requests?limit=1000", "/console/api/models",
              "/console/api/settings", "/console/api/logs?limit=2000", "/health"]


def _log_secrets_through_the_proxy_loggers() -> None:
    """Lines a backend or the server could write about an upstream's answer, with and without a
    traceback: the server's log scrubber must catch them on every logger it serves."""
    for name in ("lingma_proxy.relay", "lingma_proxy.backends", "lingma_proxy.remote", "uvicorn.error"):
        logger = logging.getLogger(name)
        for kind, secret in SECRETS.items():
            logger.warning("upstream said %s for %s", f"bad key {secret}", kind)
            logger.error(f"f-string line with {secret}")
            try:
                raise RuntimeError(f"upstream refused {secret}")
            except RuntimeError:
                logger.exception("request failed")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("home")
    data_dir = tmp_path_factory.mktemp("data")
    openai_fake = FakeOpenAIUpstream().start_thread()
    anthropic_fake = FakeAnthropicUpstream().start_thread()
    remote = LingmaRemoteEmulator(accounts=(ACCOUNT,)).start_thread()
    creds = home / "credentials.json"
    creds.write_bytes(orjson.dumps({"source": "test", "auth": {
        "cosy_key": ACCOUNT.cosy_key, "encrypt_user_info": ACCOUNT.encrypt_user_info,
        "user_id": ACCOUNT.user_id, "machine_id": ACCOUNT.machine_id}}))
    config = home / "config.json"
    config.write_bytes(orjson.dumps({
        "api_key": SECRETS["api_key"], "admin_key": SECRETS["admin_key"],
        "openai_base_url": openai_fake.base_url, "openai_api_key": SECRETS["openai_api_key"],
        "anthropic_base_url": anthropic_fake.url, "anthropic_api_key": SECRETS["anthropic_api_key"],
        "backend": "openai",
        "backends": {"entry": {"type": "openai", "base_url": openai_fake.base_url,
                               "api_key": SECRETS["backend_entry_key"]}},
        "routes": [{"pattern": "claude-*", "backend": "anthropic"}, {"pattern": "entry-*", "backend": "entry"},
                   {"pattern": "kmodel", "backend": "remote"}],
        "remote_base_url": remote.url, "remote_auth_file": str(creds), "remote_fallback": False,
        "data_dir": str(data_dir), "trace": True, "ping_interval": 10.0,
    }))
    settings = load_settings({"config": str(config)}, {}, home, home)
    capture = _Capture()
    root, proxy = logging.getLogger(), logging.getLogger("lingma_proxy")
    old_level = proxy.level
    root.addHandler(capture)
    proxy.setLevel(logging.DEBUG)
    server = ServerThread(settings).__enter__()
    w = World(server, openai_fake, anthropic_fake, remote, data_dir, config, settings)
    try:
        with httpx.Client(timeout=20) as client:
            # the remote backend reads the Lingma login on its first request: from then on the
            # registry knows it (cases quoting it come after)
            w.run(Case("lingma_cosy_key", "warmup", "chat", "remote", False), client)
            for case in CASES:
                w.run(case, client)
            _log_secrets_through_the_proxy_loggers()
            deadline = time.monotonic() + 20
            while True:  # every request recorded before the admin answers are read
                n = client.get(server.url + "/console/api/overview").json()
                rows = client.get(server.url + "/console/api/requests?limit=1000").json()["requests"]
                if len(rows) >= len(w.answers) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            for url in ADMIN_URLS:
                w.admin[url] = client.get(server.url + url).content
            for row in rows:
                w.admin[f"/console/api/requests/{row['id']}"] = client.get(
                    f"{server.url}/console/api/requests/{row['id']}").content
            w.admin["/console/api/feedback-bundle"] = client.get(server.url + "/console/api/feedback-bundle").content
            del n
    finally:
        server.__exit__(None, None, None)  # queued records and traces reach the disk
        root.removeHandler(capture)
        proxy.setLevel(old_level)
        for fake in (openai_fake, anthropic_fake, remote):
            fake.stop_thread()
    w.logs = capture.lines
    db = data_dir / "proxy.db"
    conn = sqlite3.connect(db)
    try:
        for table in ("requests", "logs"):
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixed table names
                w.rows.append(" | ".join("" if v is None else str(v) for v in row))
    finally:
        conn.close()
    w.db_bytes = b"".join(p.read_bytes() for p in data_dir.glob("proxy.db*") if p.is_file())
    w.traces = {str(p.relative_to(data_dir)): p.read_bytes() for p in (data_dir / "traces").rglob("*.json")}
    yield w


# ----------------------------------------------------------------------------- per case


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_client_error_answers_never_quote_a_secret(world: World, case: Case) -> None:
    status, body = world.answers[case.id]
    if case.where == "upstream_error":
        assert status >= 400, f"the upstream's error became {status}: {body[:300]!r}"
    if status >= 400:
        assert not leaks(body), f"error answer {status} quotes {leaks(body)}: {body[:400]!r}"
    else:
        assert status == 200, body[:300]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_record_of_each_request_holds_no_secret(world: World, case: Case) -> None:
    marker = world.markers[case.id]
    rows = [r for r in world.rows if marker in r]
    assert rows, f"request {marker} was not recorded"
    for row in rows:
        assert not leaks(row), f"the record of {marker} holds {leaks(row)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_trace_of_each_request_holds_no_secret(world: World, case: Case) -> None:
    marker = world.markers[case.id]
    found = [name for name, data in world.traces.items() if marker.encode() in data]
    assert found, f"request {marker} has no trace file"
    for name in found:
        assert not leaks(world.traces[name]), f"trace {name} holds {leaks(world.traces[name])}"


# ----------------------------------------------------------------------------- everything written


@pytest.mark.parametrize("kind", KINDS)
def test_the_database_file_holds_no_secret_in_any_spelling(world: World, kind: str) -> None:
    assert world.db_bytes
    for form in SPELLINGS[kind]:
        assert form.encode() not in world.db_bytes, f"{kind} is in the SQLite file (as {form!r})"


@pytest.mark.parametrize("kind", KINDS)
def test_no_trace_file_holds_a_secret(world: World, kind: str) -> None:
    assert len(world.traces) >= len(CASES)
    for name, data in world.traces.items():
        for form in SPELLINGS[kind]:
            assert form.encode() not in data, f"{kind} is in {name} (as {form!r})"


@pytest.mark.parametrize("kind", KINDS)
def test_log_output_holds_no_secret(world: World, kind: str) -> None:
    text = "\n".join(world.logs)
    assert "upstream said bad key [REDACTED]" in text  # the lines were written, scrubbed
    assert "Traceback" in text and "RuntimeError: upstream refused [REDACTED]" in text
    for form in SPELLINGS[kind]:
        assert form not in text, f"{kind} reached the log output (as {form!r})"


@pytest.mark.parametrize("url", ADMIN_URLS + ["/console/api/requests/<each>"])
def test_debug_and_console_answers_hold_no_secret(world: World, url: str) -> None:
    answers = {u: b for u, b in world.admin.items() if u == url or
               (url.endswith("<each>") and u.startswith("/console/api/requests/") and "?" not in u)}
    assert answers
    for u, body in answers.items():
        assert not leaks(body), f"{u} answers {leaks(body)}"


def test_the_log_ring_kept_the_scrubbed_lines(world: World) -> None:
    ring = world.admin["/debug/logs?limit=2000"].decode()
    assert "upstream said bad key [REDACTED]" in ring and not leaks(ring)


def _bundle_text(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n).decode("utf-8", "replace") for n in z.namelist()}


def test_the_console_feedback_bundle_holds_no_secret(world: World) -> None:
    entries = _bundle_text(world.admin["/console/api/feedback-bundle"])
    assert {"config.json", "requests.json", "logs.json"} <= set(entries)
    assert any(world.markers[c.id] in entries["requests.json"] for c in CASES[-50:])
    for name, text in entries.items():
        assert not leaks(text), f"bundle entry {name} holds {leaks(text)}"


def test_the_cli_feedback_bundle_holds_no_secret(world: World, tmp_path: Path) -> None:
    from lingma_proxy.cli.main import cli

    out = tmp_path / "bundle.zip"
    result = CliRunner().invoke(cli, ["feedback-bundle", str(out), "--data-dir", str(world.data_dir),
                                      "--config", str(world.config)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not leaks(result.output)
    entries = _bundle_text(out.read_bytes())
    assert "requests.json" in entries
    for name, text in entries.items():
        assert not leaks(text), f"bundle entry {name} holds {leaks(text)}"


def test_the_upstreams_did_get_the_keys_they_need(world: World) -> None:
    """The scrubbing is on what the proxy writes and answers, not on what it must send."""
    sent = [r.headers.get("authorization", "") for r in world.openai.chat_requests()]
    assert f"Bearer {SECRETS['openai_api_key']}" in sent and f"Bearer {SECRETS['backend_entry_key']}" in sent
    assert any(r.header("x-api-key") == SECRETS["anthropic_api_key"] for r in world.anthropic.requests)


# ----------------------------------------------------------------------------- odd credentials: 401/403, never 500

ODD_VALUES = {
    "utf8_accent": "clé-é".encode(),
    "latin1_bytes": b"cl\xe9\xff\xfe",
    "emoji": "\U0001f511key".encode(),
    "cjk": "密钥密钥".encode(),
    "c1_and_nbsp": b"\x85\x9f\xa0",  # obs-text bytes the HTTP parser lets through
    "overlong_ascii": b"k" * 8000,
    "overlong_nonascii": "é".encode() * 3000,
    "empty": b"",
    "spaces": b"   ",
    "almost_the_key": SECRETS["admin_key"][:-1].encode() + "é".encode(),
    "key_plus_suffix": SECRETS["admin_key"].encode() + b"\xe9",
}
ADMIN_PATHS = ["/console", "/console/api/overview", "/console/api/requests", "/console/api/settings",
               "/console/static/app.js", "/debug/requests", "/debug/logs", "/debug/access-logs", "/api/requests",
               "/api/logs", "/api/access-logs"]
API_PATHS = ["/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens",
             "/v1/responses/input_tokens"]


def _presented(how: str, value: bytes) -> list[tuple[bytes, bytes]]:
    if how == "x-admin-key":
        return [(b"x-admin-key", value)]
    if how == "x-api-key":
        return [(b"x-api-key", value)]
    if how == "bearer":
        return [(b"authorization", b"Bearer " + value)]
    return [(b"cookie", b"lingma_proxy_admin=" + value)]


def _raw_request(url: str, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
    """Send header bytes exactly as given, on a plain socket (an HTTP client would validate or
    encode them first); the Host is not a loopback name, so the key checks decide."""
    port = int(url.rsplit(":", 1)[1])
    head = [f"{method} {path} HTTP/1.1".encode(), b"host: proxy.lan:8095", b"connection: close",
            b"content-length: " + str(len(body)).encode()] + [k + b": " + v for k, v in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """Both keys required; requests name a non-loopback Host, so the key checks decide."""
    from fakes.ir_backend import ScriptedBackend
    from server_harness import make_settings

    settings = make_settings(record=False, trace=False, api_key=SECRETS["api_key"], admin_key=SECRETS["admin_key"],
                             data_dir=str(tmp_path_factory.mktemp("guarded")))
    with ServerThread(settings, {"scripted": ScriptedBackend()}) as s:
        yield s


@pytest.mark.parametrize("value", list(ODD_VALUES), ids=str)
@pytest.mark.parametrize("how", ["x-admin-key", "bearer", "cookie"])
@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_odd_admin_credentials_are_refused_not_crashed(guarded: ServerThread, path: str, how: str, value: str) -> None:
    status = _raw_request(guarded.url, "GET", path, _presented(how, ODD_VALUES[value]))
    assert status in (401, 403), f"{path} with {how}={value} answered {status}"


@pytest.mark.parametrize("value", list(ODD_VALUES), ids=str)
def test_odd_console_sign_in_keys_are_refused(guarded: ServerThread, value: str) -> None:
    for body in (b"key=" + ODD_VALUES[value], b"key=" + quote(ODD_VALUES[value]).encode()):
        status = _raw_request(guarded.url, "POST", "/console/login",
                              [(b"content-type", b"application/x-www-form-urlencoded")], body)
        assert status in (401, 403), f"sign-in with {value} answered {status}"


@pytest.mark.parametrize("value", list(ODD_VALUES), ids=str)
@pytest.mark.parametrize("how", ["x-api-key", "bearer"])
@pytest.mark.parametrize("path", API_PATHS)
def test_odd_api_keys_get_a_401_in_the_dialect(guarded: ServerThread, path: str, how: str, value: str) -> None:
    body = b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "input": "hi"}'
    status = _raw_request(guarded.url, "POST", path, [(b"content-type", b"application/json")]
                          + _presented(how, ODD_VALUES[value]), body)
    assert status == 401, f"{path} with {how}={value} answered {status}"


@pytest.mark.parametrize("path", ADMIN_PATHS[:3] + ADMIN_PATHS[5:])
@pytest.mark.parametrize("how", ["x-admin-key", "bearer"])
def test_the_right_admin_key_still_opens_them(guarded: ServerThread, path: str, how: str) -> None:
    assert _raw_request(guarded.url, "GET", path, _presented(how, SECRETS["admin_key"].encode())) == 200


@pytest.mark.parametrize("key", ["clé-secrète-0042", "密钥-0123456789", "key-\U0001f511-0123456789"])
def test_a_non_ascii_admin_key_matches_its_utf8_bytes(key: str, tmp_path: Path) -> None:
    from fakes.ir_backend import ScriptedBackend
    from server_harness import make_settings

    settings = make_settings(record=False, trace=False, api_key=SECRETS["api_key"], admin_key=key,
                             data_dir=str(tmp_path))
    with ServerThread(settings, {"scripted": ScriptedBackend()}) as s:
        assert _raw_request(s.url, "GET", "/debug/requests", [(b"x-admin-key", key.encode())]) == 200
        assert _raw_request(s.url, "GET", "/debug/requests", [(b"x-admin-key", key.encode("utf-8")[:-1])]) == 403
        form = b"key=" + quote(key).encode()
        with httpx.Client(timeout=10) as c:
            r = c.post(s.url + "/console/login", content=form, follow_redirects=False,
                       headers={"content-type": "application/x-www-form-urlencoded", "host": "proxy.lan:8095"})
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].split(";", 1)[0].encode()
        assert _raw_request(s.url, "GET", "/console/api/overview", [(b"cookie", cookie)]) == 200


# ----------------------------------------------------------------------------- mid-stream upstream errors


@pytest.fixture(scope="module")
def midstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, FakeAnthropicUpstream,
                                                                           FakeOpenAIUpstream]]:
    anthropic_fake = FakeAnthropicUpstream().start_thread()
    openai_fake = FakeOpenAIUpstream().start_thread()
    home = tmp_path_factory.mktemp("mid")
    config = home / "config.json"
    config.write_bytes(orjson.dumps({
        "api_key": SECRETS["api_key"], "admin_key": SECRETS["admin_key"], "backend": "openai",
        "openai_base_url": openai_fake.base_url, "openai_api_key": SECRETS["openai_api_key"],
        "anthropic_base_url": anthropic_fake.url, "anthropic_api_key": SECRETS["anthropic_api_key"],
        "routes": [{"pattern": "claude-*", "backend": "anthropic"}], "record": False, "trace": False,
        "data_dir": str(home / "data")}))
    with ServerThread(load_settings({"config": str(config)}, {}, home, home)) as s:
        yield s, anthropic_fake, openai_fake
    anthropic_fake.stop_thread()
    openai_fake.stop_thread()


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind", ["api_key", "admin_key", "openai_api_key", "anthropic_api_key"])
def test_an_error_event_inside_a_stream_never_quotes_a_secret(
        midstream: tuple[ServerThread, FakeAnthropicUpstream, FakeOpenAIUpstream], api: str, kind: str) -> None:
    """An Anthropic stream that starts, then sends ``event: error`` quoting a key: passed through
    byte for byte to an Anthropic client (all but the key), translated for the others."""
    server, anthropic_fake, _ = midstream
    frames = text_frames("partial answer", model="claude-test")[:3]
    anthropic_fake.queue(AReply.sse([*frames, error_frame_quoting(SECRETS[kind])]))
    path, body = body_for(Case(kind, "upstream_error", api, "anthropic", True), "mid")
    with httpx.Client(timeout=20) as c:
        r = c.post(server.url + path, json=body, headers={"authorization": f"Bearer {SECRETS['api_key']}",
                                                           "anthropic-version": "2023-06-01"})
    assert r.status_code == 200
    assert "error" in r.text and "[REDACTED]" in r.text, r.text[-400:]
    assert not leaks(r.content), f"{leaks(r.content)} in {r.text[-400:]!r}"


def error_frame_quoting(secret: str) -> bytes:
    from fakes.anthropic_upstream import error_frame

    return error_frame("authentication_error", f"the key {secret} was revoked mid-stream")


# ----------------------------------------------------------------------------- secrets that arrive later


def _records_text(data_dir: Path) -> str:
    conn = sqlite3.connect(data_dir / "proxy.db")
    try:
        return "\n".join(" | ".join("" if v is None else str(v) for v in row)
                         for table in ("requests", "logs") for row in conn.execute(f"SELECT * FROM {table}"))  # noqa: S608
    finally:
        conn.close()


def _wait_rows(server: ServerThread, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(httpx.get(server.url + "/console/api/requests?limit=500").json()["requests"]) < n:
        assert time.monotonic() < deadline, "requests were not recorded"
        time.sleep(0.05)


def test_a_lingma_login_that_changes_on_disk_is_learned(tmp_path: Path) -> None:
    """The remote backend re-reads its credentials file when it changes: the new login joins the
    registry at once, and a prompt or an upstream error quoting it is scrubbed like the first."""
    second = Account(cosy_key="COSY-second-login-Zq8Wm3Xr7Lp2", encrypt_user_info="EUI-second-login-Hk4Gf9Ds2Aj6",
                     user_id="1000000000008888", machine_id="fedcba9876543210-SECOND-MACHINE")
    emu = LingmaRemoteEmulator(accounts=(ACCOUNT, second)).start_thread()
    creds = tmp_path / "credentials.json"

    def login(a: Account) -> None:
        creds.write_bytes(orjson.dumps({"source": "test", "auth": {
            "cosy_key": a.cosy_key, "encrypt_user_info": a.encrypt_user_info, "user_id": a.user_id,
            "machine_id": a.machine_id}}))

    login(ACCOUNT)
    settings = load_settings({"backend": "remote", "remote_base_url": emu.url, "remote_auth_file": str(creds),
                              "remote_fallback": False, "data_dir": str(tmp_path / "data"), "trace": True},
                             {}, tmp_path, tmp_path)
    try:
        with ServerThread(settings) as s, httpx.Client(timeout=20) as c:
            def chat(text: str) -> httpx.Response:
                return c.post(s.url + "/v1/chat/completions",
                              json={"model": "kmodel", "messages": [{"role": "user", "content": text}]})

            assert chat("first").status_code == 200
            time.sleep(0.05)
            login(second)  # the user logged in again elsewhere: a new file, a new key
            assert chat(f"quoting {second.cosy_key} and {second.encrypt_user_info}").status_code == 200
            assert second.cosy_key in s.app.state.secrets.values()
            emu.queue(LReply.http(403, orjson.dumps({"success": False, "errorCode": "403",
                                                     "errorMessage": f"login {second.cosy_key} refused"})))
            r = chat("again")
            assert r.status_code == 403 and second.cosy_key not in r.text
            _wait_rows(s, 3)
            logs = httpx.get(s.url + "/debug/logs?limit=2000").text
        text = _records_text(tmp_path / "data") + logs
        text += "".join(p.read_text() for p in (tmp_path / "data" / "traces").rglob("*.json"))
        for secret in (second.cosy_key, second.encrypt_user_info, ACCOUNT.cosy_key):
            assert secret not in text
    finally:
        emu.stop_thread()


def test_a_key_applied_from_the_console_joins_the_registry(tmp_path: Path) -> None:
    fake = FakeOpenAIUpstream().start_thread()
    settings = load_settings({"backend": "openai", "openai_base_url": fake.base_url, "data_dir": str(tmp_path),
                              "trace": True}, {}, tmp_path, tmp_path)
    new_key = "lm-rotated-key-Qw3Er5Ty7Ui9"
    try:
        with ServerThread(settings) as s, httpx.Client(timeout=20) as c:
            r = c.post(s.url + "/console/api/settings", json={"values": {"openai_api_key": new_key}})
            assert r.status_code == 200, r.text
            assert new_key not in r.text
            fake.queue(Reply.error(401, f"Incorrect API key provided: {new_key}"))
            err = c.post(s.url + "/v1/chat/completions",
                         json={"model": "fake-model", "messages": [{"role": "user", "content": f"k {new_key}"}]})
            assert err.status_code == 401 and new_key not in err.text and "[REDACTED]" in err.text
            assert fake.chat_requests()[-1].headers["authorization"] == f"Bearer {new_key}"  # still sent upstream
            _wait_rows(s, 1)
            answers = [c.get(s.url + u).text for u in ("/console/api/settings", "/debug/requests", "/debug/logs")]
        written = _records_text(tmp_path) + "".join(answers)
        written += "".join(p.read_text() for p in (tmp_path / "traces").rglob("*.json"))
        assert new_key not in written
    finally:
        fake.stop_thread()


def test_health_and_model_lists_never_quote_a_secret(tmp_path: Path) -> None:
    """A backend state or model list error that quotes a key (here: an upstream answering its
    model list with an error naming it) reaches /health and the model routes scrubbed."""
    fake = FakeOpenAIUpstream().start_thread()
    key = SECRETS["openai_api_key"]
    fake.models_status = 401
    settings = load_settings({"backend": "openai", "openai_base_url": fake.base_url, "openai_api_key": key,
                              "data_dir": str(tmp_path), "record": False}, {}, tmp_path, tmp_path)
    try:
        with ServerThread(settings) as s, httpx.Client(timeout=20) as c:
            # texts an upstream's failure puts into backend states and model lists, as if they were keys
            s.app.state.secrets.add("models unavailable", "answered HTTP 401")
            redacted = 0
            for path in ("/", "/health", "/v1/models", "/models", "/api/tags", "/api/v1/models", "/capabilities"):
                r = c.get(s.url + path)
                assert r.status_code != 500, (path, r.status_code)
                assert not [t for t in ("models unavailable", "answered HTTP 401", key) if t in r.text], \
                    (path, r.text[:300])
                redacted += "[REDACTED]" in r.text
            assert redacted  # the error text was there, scrubbed
    finally:
        fake.stop_thread()
