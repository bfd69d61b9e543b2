"""Slice A2: the proxy refuses what the official APIs refuse, instead of forwarding it.

Generated cases through the real server (raw HTTP, and the official SDKs for the error types):
every refusal class x the three client APIs x streaming or not x the OpenAI-compatible fake
upstream and the Anthropic fake on the translated path (Chat/Responses clients; an Anthropic
client to the Anthropic backend is a byte passthrough the real API validates itself). Each
refusal must be a 400 ``invalid_request_error`` in the client's dialect naming the field, and
the upstream must have received nothing. Valid requests (the golden cases, real-client shapes,
prefills) must still pass.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from fakes.anthropic_upstream import FakeAnthropicUpstream
from fakes.openai_upstream import FakeOpenAIUpstream
from goldens import GOLDEN
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.config import BackendConfig
from server_harness import ServerThread, make_settings

CHAT, RESP, MSGS = "openai_chat", "openai_responses", "anthropic_messages"
PATHS = {CHAT: "/v1/chat/completions", RESP: "/v1/responses", MSGS: "/v1/messages"}

MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01",
    "image/gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff",
    "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00",
}
B64 = {k: base64.b64encode(v).decode() for k, v in MAGIC.items()}


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def openai_side() -> Iterator[tuple[ServerThread, FakeOpenAIUpstream]]:
    fake = FakeOpenAIUpstream().start_thread()
    settings = make_settings(backend="openai", openai_base_url=fake.base_url, trace=False,
                             backends=(BackendConfig("openai", "openai", fake.base_url),))
    try:
        with ServerThread(settings) as server:
            yield server, fake
    finally:
        fake.stop_thread()


@pytest.fixture(scope="module")
def anthropic_side() -> Iterator[tuple[ServerThread, FakeAnthropicUpstream]]:
    fake = FakeAnthropicUpstream().start_thread()
    backend = AnthropicBackend("anthropic", fake.url, "sk-ant-test", first_byte_timeout=10)
    try:
        with ServerThread(make_settings(backend="anthropic", trace=False), {"anthropic": backend}) as server:
            yield server, fake
    finally:
        fake.stop_thread()


def _forwarded(fake: Any) -> int:
    if isinstance(fake, FakeOpenAIUpstream):
        return len([r for r in fake.requests if r.path.endswith(("/chat/completions", "/responses"))])
    return len(fake.messages())


def refused(server: ServerThread, fake: Any, dialect: str, body: dict[str, Any], param: str | None) -> str:
    """POST ``body``; assert a 400 in the dialect's shape naming ``param`` and nothing forwarded."""
    before = _forwarded(fake)
    r = httpx.post(server.url + PATHS[dialect], json=body, timeout=10)
    assert r.status_code == 400, r.text
    data = r.json()
    if dialect == MSGS:
        assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error", data
        message = data["error"]["message"]
    else:
        err = data["error"]
        assert err["type"] == "invalid_request_error", data
        message = err["message"]
        if param is not None:
            assert err["param"] == param, data
    if param is not None:
        assert message.startswith(param) or param in message, (param, message)
    assert _forwarded(fake) == before, "the upstream received a refused request"
    return str(message)


def accepted(server: ServerThread, dialect: str, body: dict[str, Any]) -> None:
    r = httpx.post(server.url + PATHS[dialect], json=body, timeout=10)
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- request builders


def _base(dialect: str, messages: list[Any], **extra: Any) -> dict[str, Any]:
    key = "input" if dialect == RESP else "messages"
    body: dict[str, Any] = {"model": "fake-model", key: messages, **extra}
    if dialect == MSGS:
        body.setdefault("max_tokens", 64)
    return body


def image_block(dialect: str, *, url: str | None = None, data: str | None = None,
                media: str = "image/png") -> tuple[dict[str, Any], str]:
    """One image content part and the suffix of the path that names it."""
    if dialect == MSGS:
        if url is not None:
            return {"type": "image", "source": {"type": "url", "url": url}}, ".source.url"
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}, ".source"
    value = url if url is not None else f"data:{media};base64,{data}"
    if dialect == CHAT:
        return {"type": "image_url", "image_url": {"url": value}}, ".image_url.url"
    return {"type": "input_image", "image_url": value}, ".image_url"


def user_image(dialect: str, **kw: Any) -> tuple[dict[str, Any], str]:
    block, suffix = image_block(dialect, **kw)
    text = {"type": "input_text" if dialect == RESP else "text", "text": "look"}
    msg = {"role": "user", "content": [text, block]}
    path = "input[0].content[1]" if dialect == RESP else "messages[0].content[1]"
    return _base(dialect, [msg]), path + suffix


def call_turn(dialect: str, ids: list[str]) -> list[dict[str, Any]]:
    """The assistant turn calling tool ``t`` once per id."""
    if dialect == MSGS:
        return [{"role": "assistant", "content": [
            {"type": "tool_use", "id": i, "name": "t", "input": {}} for i in ids]}]
    if dialect == CHAT:
        return [{"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "t", "arguments": "{}"}} for i in ids]}]
    return [{"type": "function_call", "call_id": i, "name": "t", "arguments": "{}"} for i in ids]


def result_turn(dialect: str, ids: list[str], content: Any = "ok") -> list[dict[str, Any]]:
    if not ids:
        return []
    if dialect == MSGS:
        return [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": i, "content": content} for i in ids]}]
    if dialect == CHAT:
        return [{"role": "tool", "tool_call_id": i, "content": content} for i in ids]
    return [{"type": "function_call_output", "call_id": i, "output": content} for i in ids]


def user(dialect: str, text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def tools_for(dialect: str, names: list[str]) -> list[dict[str, Any]]:
    schema = {"type": "object", "properties": {}}
    if dialect == MSGS:
        return [{"name": n, "description": "d", "input_schema": schema} for n in names]
    if dialect == CHAT:
        return [{"type": "function", "function": {"name": n, "parameters": schema}} for n in names]
    return [{"type": "function", "name": n, "parameters": schema} for n in names]


def choice_for(dialect: str, name: str) -> dict[str, Any]:
    if dialect == MSGS:
        return {"type": "tool", "name": name}
    if dialect == CHAT:
        return {"type": "function", "function": {"name": name}}
    return {"type": "function", "name": name}


def tool_round(dialect: str, calls: list[str], results: list[str], *, then_user: bool = False) -> dict[str, Any]:
    msgs = [user(dialect), *call_turn(dialect, calls), *result_turn(dialect, results)]
    if then_user:
        msgs.append(user(dialect, "next"))
    return _base(dialect, msgs, tools=tools_for(dialect, ["t"]))


def result_path(dialect: str, n_calls: int, k: int) -> str:
    """Where the k-th result of ``tool_round`` sits on the wire."""
    if dialect == MSGS:
        return f"messages[2].content[{k}]"
    if dialect == CHAT:
        return f"messages[{2 + k}].tool_call_id"
    return f"input[{1 + n_calls + k}].call_id"


def call_path(dialect: str, k: int) -> str:
    if dialect == MSGS:
        return f"messages[1].content[{k}]"
    if dialect == CHAT:
        return f"messages[1].tool_calls[{k}]"
    return f"input[{1 + k}]"


# --------------------------------------------------------------------------- generated cases

BAD_URLS = [
    "file:///etc/passwd", "FILE:///etc/passwd", "File:///C:/Windows/win.ini", "file://host/share/x.png",
    "ftp://example.com/x.png", "FTP://example.com/x.png", "javascript:alert(1)", "JavaScript:alert(1)",
    "gopher://example.com:70/_x", "ws://example.com/x.png", "smb://host/x.png", "jar:file:///x!/y.png",
    "/etc/passwd", "/tmp/shot.png", "~/shot.png", "./shot.png", "../../etc/passwd", "shot.png",
    "C:\\Users\\me\\shot.png", "c:/Users/me/shot.png", "\\\\server\\share\\x.png", "//example.com/x.png",
    "", " ", "data:image/png,notbase64", "data:image/png;base64,", "data:text/plain;base64,aGk=",
    "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", "httpx://example.com/x.png", "http:/example.com",
]
BAD_BASE64 = [
    "!!!!", "iVBORw0KGgo", "iVBORw0KGgo=a", "iVBOR w0KGgo=====", "====", "@@@@AAAA", "\u00e9t\u00e9AAAA",
    B64["image/png"][:-1] + "*", B64["image/png"][:-3],
]
UNSUPPORTED = ["image/bmp", "image/tiff", "image/svg+xml", "text/plain", "application/pdf", "image/heic"]
MISMATCH = [(declared, actual) for declared in MAGIC for actual in MAGIC if declared != actual]
NOT_AN_IMAGE = [b"hello world, no image here", b"%PDF-1.4\n", b"<svg></svg>", b"BM\x00\x00\x00\x00"]

DIALECTS = [CHAT, RESP, MSGS]
TRANSLATED_TO_ANTHROPIC = [CHAT, RESP]


def image_cases() -> list[tuple[str, Callable[[str], tuple[dict[str, Any], str]]]]:
    out: list[tuple[str, Callable[[str], tuple[dict[str, Any], str]]]] = []
    for url in BAD_URLS:
        out.append((f"url:{url!r}", lambda d, url=url: user_image(d, url=url)))
    for data in BAD_BASE64:
        out.append((f"b64:{data!r}", lambda d, data=data: user_image(d, data=data)))
    for media in UNSUPPORTED:
        out.append((f"media:{media}", lambda d, media=media: user_image(d, data=B64["image/png"], media=media)))
    for declared, actual in MISMATCH:
        out.append((f"mismatch:{declared}<-{actual}",
                    lambda d, a=actual, m=declared: user_image(d, data=B64[a], media=m)))
    for raw in NOT_AN_IMAGE:
        out.append((f"bytes:{raw[:6]!r}",
                    lambda d, raw=raw: user_image(d, data=base64.b64encode(raw).decode(), media="image/png")))
    return out


IMAGE_CASES = image_cases()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("name", "build"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_images_refused_openai_backend(openai_side, name, build, dialect, stream) -> None:
    server, fake = openai_side
    body, param = build(dialect)
    if stream:
        body["stream"] = True
    refused(server, fake, dialect, body, param)


@pytest.mark.parametrize("dialect", TRANSLATED_TO_ANTHROPIC)
@pytest.mark.parametrize(("name", "build"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_images_refused_anthropic_backend(anthropic_side, name, build, dialect) -> None:
    server, fake = anthropic_side
    body, param = build(dialect)
    refused(server, fake, dialect, body, param)


def tool_result_image(dialect: str, **kw: Any) -> tuple[dict[str, Any], str]:
    """An image inside a tool result (Anthropic tool_result content, Chat tool message, Responses output)."""
    block, suffix = image_block(dialect, **kw)
    body = tool_round(dialect, ["call_1"], [])
    key = "input" if dialect == RESP else "messages"
    body[key] += result_turn(dialect, ["call_1"], [block])
    if dialect == MSGS:
        path = "messages[2].content[0].content[0]"
    elif dialect == CHAT:
        path = "messages[2].content[0]"
    else:
        path = "input[2].output[0]"
    return body, path + suffix


TOOL_IMAGE_CASES = [
    *[(f"url:{u!r}", {"url": u}) for u in BAD_URLS[:12] + ["/etc/passwd", "C:\\x.png", "../x.png"]],
    *[(f"b64:{b!r}", {"data": b}) for b in BAD_BASE64[:5]],
    *[(f"mismatch:{m}<-{a}", {"data": B64[a], "media": m}) for m, a in MISMATCH[:6]],
    *[(f"media:{m}", {"data": B64["image/png"], "media": m}) for m in UNSUPPORTED[:3]],
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("name", "kw"), TOOL_IMAGE_CASES, ids=[c[0] for c in TOOL_IMAGE_CASES])
def test_bad_images_inside_tool_results_refused(openai_side, anthropic_side, name, kw, dialect, stream) -> None:
    body, param = tool_result_image(dialect, **kw)
    body["stream"] = stream
    refused(*openai_side, dialect, body, param)
    if dialect != MSGS:
        refused(*anthropic_side, dialect, copy.deepcopy(body), param)


# ---- tool ids

ID_SHAPES = ["toolu_01A", "call_abc123", "fc_1", "x", "Call_ABC", "call-with-dash_09", "\u00fcnicode_id"]


def unknown_result_cases() -> list[tuple[str, list[str], list[str], int]]:
    """(label, call ids, result ids, index of the first unknown result)."""
    out = []
    for cid in ID_SHAPES:
        out.append((f"other:{cid}", [cid], [cid + "_other"], 0))
        out.append((f"case:{cid}", [cid], [cid.swapcase()] if cid.swapcase() != cid else [cid + "Z"], 0))
        out.append((f"prefix:{cid}", [cid], [cid[:-1] or "y"], 0))
        out.append((f"second:{cid}", [cid, cid + "2"], [cid, cid + "3"], 1))
    return out


UNKNOWN = unknown_result_cases()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("name", "calls", "results", "bad"), UNKNOWN, ids=[c[0] for c in UNKNOWN])
def test_unknown_tool_result_id_refused(openai_side, anthropic_side, name, calls, results, bad, dialect,
                                        stream) -> None:
    body = tool_round(dialect, calls, results, then_user=True)
    body["stream"] = stream
    message = refused(*openai_side, dialect, body, result_path(dialect, len(calls), bad))
    assert results[bad] in message
    if dialect != MSGS:
        refused(*anthropic_side, dialect, body, result_path(dialect, len(calls), bad))


def test_result_with_no_call_at_all_refused(openai_side) -> None:
    for dialect in DIALECTS:
        body = _base(dialect, [user(dialect), *result_turn(dialect, ["call_nobody"])])
        param = {MSGS: "messages[1].content[0]", CHAT: "messages[1].tool_call_id", RESP: "input[1].call_id"}[dialect]
        refused(*openai_side, dialect, body, param)


MISSING = [
    ("one-of-one", ["a1"], []),
    ("one-of-two", ["a1", "a2"], ["a1"]),
    ("first-of-two", ["a1", "a2"], ["a2"]),
    ("two-of-three", ["a1", "a2", "a3"], ["a2"]),
    *[(f"id:{c}", [c], []) for c in ID_SHAPES],
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("name", "calls", "results"), MISSING, ids=[c[0] for c in MISSING])
def test_tool_call_without_result_refused(openai_side, anthropic_side, name, calls, results, dialect, stream) -> None:
    body = tool_round(dialect, calls, results, then_user=True)
    body["stream"] = stream
    first = next(k for k, c in enumerate(calls) if c not in results)
    message = refused(*openai_side, dialect, body, call_path(dialect, first))
    assert all(c in message for c in calls if c not in results)
    if dialect != MSGS:
        refused(*anthropic_side, dialect, body, call_path(dialect, first))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_answered_rounds_and_prefill_still_pass(openai_side, dialect) -> None:
    server, _ = openai_side
    accepted(server, dialect, tool_round(dialect, ["c1", "c2"], ["c2", "c1"], then_user=True))
    accepted(server, dialect, tool_round(dialect, ["c1"], ["c1"]))
    # The last message may be an assistant turn with a tool call (a prefill): nothing to answer yet.
    prefill = _base(dialect, [user(dialect), *call_turn(dialect, ["c9"])], tools=tools_for(dialect, ["t"]))
    accepted(server, dialect, prefill)


def test_previous_response_id_expansion_answers_stored_calls(openai_side) -> None:
    """Responses: the outputs may answer calls that only the stored previous response holds."""
    server, fake = openai_side
    from fakes.openai_upstream import Call, Reply
    fake.queue(Reply.tools([Call("t", "{}")]))
    first = httpx.post(server.url + PATHS[RESP], json=_base(RESP, "go", tools=tools_for(RESP, ["t"])), timeout=10)
    assert first.status_code == 200, first.text
    data = first.json()
    call_id = next(o["call_id"] for o in data["output"] if o["type"] == "function_call")
    follow = {"model": "fake-model", "previous_response_id": data["id"], "tools": tools_for(RESP, ["t"]),
              "input": result_turn(RESP, [call_id])}
    accepted(server, RESP, follow)
    bad = {**follow, "input": result_turn(RESP, [call_id + "_other"])}
    refused(server, fake, RESP, bad, "input[0].call_id")


# ---- tools and tool_choice


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("names", [["t", "t"], ["a", "b", "a"], ["Bash", "Read", "Edit", "Bash"], ["x"] * 5],
                         ids=lambda n: "+".join(n))
def test_duplicate_tool_names_refused(openai_side, anthropic_side, names, dialect, stream) -> None:
    body = _base(dialect, [user(dialect)], tools=tools_for(dialect, names), stream=stream)
    message = refused(*openai_side, dialect, body, "tools")
    assert "unique" in message
    if dialect != MSGS:
        refused(*anthropic_side, dialect, body, "tools")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("tools", "choice"), [
    (["a"], "b"), (["a", "b"], "c"), ([], "a"), (["Bash"], "bash"), (["read_file"], "read_file "),
])
def test_tool_choice_naming_an_unknown_tool_refused(openai_side, anthropic_side, tools, choice, dialect) -> None:
    body = _base(dialect, [user(dialect)], tool_choice=choice_for(dialect, choice))
    if tools:
        body["tools"] = tools_for(dialect, tools)
    refused(*openai_side, dialect, body, "tool_choice")
    if dialect != MSGS:
        refused(*anthropic_side, dialect, body, "tool_choice")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_known_tool_choice_passes(openai_side, dialect) -> None:
    body = _base(dialect, [user(dialect)], tools=tools_for(dialect, ["a", "b"]), tool_choice=choice_for(dialect, "b"))
    accepted(openai_side[0], dialect, body)


# ---- empty conversations


@pytest.mark.parametrize(("dialect", "body", "param"), [
    (MSGS, {"model": "m", "max_tokens": 5, "messages": []}, "messages"),
    (CHAT, {"model": "m", "messages": []}, "messages"),
    (RESP, {"model": "m", "input": []}, "input"),
    (RESP, {"model": "m", "input": ""}, "input"),
    (RESP, {"model": "m"}, None),
    (CHAT, {"model": "m", "messages": [{"role": "system", "content": ""}]}, None),
    (MSGS, {"model": "m", "max_tokens": 5, "messages": [], "stream": True}, "messages"),
    (RESP, {"model": "m", "input": [], "stream": True}, "input"),
])
def test_empty_conversations_refused(openai_side, anthropic_side, dialect, body, param) -> None:
    refused(*openai_side, dialect, body, param)
    if dialect != MSGS:
        refused(*anthropic_side, dialect, body, param)


# --------------------------------------------------------------------------- valid images and goldens


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("media", sorted(MAGIC))
def test_valid_images_pass(openai_side, dialect, media) -> None:
    server, _ = openai_side
    body, _ = user_image(dialect, data=B64[media], media=media)
    accepted(server, dialect, body)
    body, _ = user_image(dialect, url="https://example.com/cat.png")
    accepted(server, dialect, body)
    body, _ = user_image(dialect, url="HTTPS://example.com/cat.png")
    accepted(server, dialect, body)
    if media == "image/jpeg":
        body, _ = user_image(dialect, data=B64[media], media="image/jpg")  # a common alias, same bytes
        accepted(server, dialect, body)
    wrapped = "\n".join(B64[media][i:i + 8] for i in range(0, len(B64[media]), 8))  # MIME line breaks
    body, _ = user_image(dialect, data=wrapped, media=media)
    accepted(server, dialect, body)


GOLDEN_REQUESTS = sorted((p.parent.name, p.name.split(".")[0]) for p in GOLDEN.glob("req_*/*.request.json"))


def _golden(case: str, dialect: str) -> dict[str, Any]:
    body = json.loads((GOLDEN / case / f"{dialect}.request.json").read_text())
    if case == "req_anthropic_claude_code":
        # The golden answers a toolu_01B no turn ever called: the real API refuses that (see
        # test_golden_orphan_result_is_refused); with the call present it is a valid request.
        body["messages"][2]["content"].append({"type": "tool_use", "id": "toolu_01B", "name": "Read", "input": {}})
    return body


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(("case", "dialect"), GOLDEN_REQUESTS, ids=[c for c, _ in GOLDEN_REQUESTS])
def test_golden_requests_still_pass(openai_side, anthropic_side, case, dialect, stream) -> None:
    body = _golden(case, dialect)
    body["stream"] = stream
    body.pop("previous_response_id", None)
    accepted(openai_side[0], dialect, body)
    if dialect != MSGS:
        accepted(anthropic_side[0], dialect, body)


def test_golden_orphan_result_is_refused(openai_side) -> None:
    body = json.loads((GOLDEN / "req_anthropic_claude_code" / "anthropic_messages.request.json").read_text())
    message = refused(*openai_side, MSGS, body, "messages[3].content[1]")
    assert "toolu_01B" in message


# --------------------------------------------------------------------------- official SDKs


def test_sdk_errors_are_bad_request_errors(openai_side) -> None:
    server, fake = openai_side
    before = _forwarded(fake)
    oa = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    an = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0)
    bad_url = "file:///etc/passwd"
    with pytest.raises(openai.BadRequestError) as chat_err:
        oa.chat.completions.create(model="m", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": bad_url}}]}])
    assert chat_err.value.body["param"] == "messages[0].content[0].image_url.url"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as resp_err:
        oa.responses.create(model="m", input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": bad_url, "detail": "auto"}]}], stream=True)
    assert resp_err.value.body["param"] == "input[0].content[0].image_url"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as msg_err:
        an.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": bad_url}}]}])
    assert "messages[0].content[0].source.url" in str(msg_err.value)
    assert _forwarded(fake) == before


# --------------------------------------------------------------------------- local image files


@pytest.fixture(scope="module")
def local_side(tmp_path_factory) -> Iterator[tuple[ServerThread, FakeOpenAIUpstream, Any]]:
    fake = FakeOpenAIUpstream().start_thread()
    settings = make_settings(backend="openai", openai_base_url=fake.base_url, trace=False, allow_local_images=True,
                             backends=(BackendConfig("openai", "openai", fake.base_url),))
    root = tmp_path_factory.mktemp("images")
    try:
        with ServerThread(settings) as server:
            yield server, fake, root
    finally:
        fake.stop_thread()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("media", sorted(MAGIC))
@pytest.mark.parametrize("form", ["path", "file-url"])
def test_local_images_are_read_and_sent_as_bytes(local_side, dialect, media, form) -> None:
    server, fake, root = local_side
    path = root / f"shot.{media.split('/')[1]}"
    path.write_bytes(MAGIC[media])
    url = str(path) if form == "path" else path.as_uri()
    body, _ = user_image(dialect, url=url)
    fake.requests.clear()
    accepted(server, dialect, body)
    sent = [r for r in fake.requests if r.path.endswith("/chat/completions")][-1].raw.decode()
    assert str(path) not in sent and "file:" not in sent
    assert f"data:{media};base64,{B64[media]}" in sent


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("what", ["missing", "directory", "not-an-image", "mislabeled-text", "fifo", "relative",
                                  "remote-file-url", "ftp"])
def test_bad_local_images_refused(local_side, dialect, what) -> None:
    import os
    server, fake, root = local_side
    target = root / f"{what}.png"
    if what == "directory":
        target.mkdir(exist_ok=True)
    elif what == "not-an-image":
        target.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    elif what == "mislabeled-text":
        target = root / "notes.png"
        target.write_text("just text")
    elif what == "fifo" and not target.exists():
        os.mkfifo(target)
    url = {"relative": "shot.png", "remote-file-url": "file://example.com/x.png",
           "ftp": "ftp://example.com/x.png"}.get(what, str(target))
    body, param = user_image(dialect, url=url)
    refused(server, fake, dialect, body, param)


def test_local_image_size_cap(local_side, monkeypatch) -> None:
    from lingma_proxy.relay import local_images
    server, fake, root = local_side
    monkeypatch.setattr(local_images, "MAX_BYTES", 64)
    big = root / "big.png"
    big.write_bytes(MAGIC["image/png"] + b"\x00" * 100)
    body, param = user_image(CHAT, url=str(big))
    message = refused(server, fake, CHAT, body, param)
    assert "64" in message


def test_local_paths_refused_by_default(openai_side, tmp_path) -> None:
    server, fake = openai_side
    path = tmp_path / "shot.png"
    path.write_bytes(MAGIC["image/png"])
    for dialect in DIALECTS:
        body, param = user_image(dialect, url=str(path))
        message = refused(server, fake, dialect, body, param)
        if dialect != CHAT:  # Chat's parser already names the two accepted forms
            assert "allow_local_images" in message


# --------------------------------------------------------------------------- count endpoints

COUNT_PATHS = {RESP: "/v1/responses/input_tokens", MSGS: "/v1/messages/count_tokens"}
COUNT_CASES = [
    ("file-url", lambda d: user_image(d, url="file:///etc/passwd")),
    ("bad-b64", lambda d: user_image(d, data="!!!!")),
    ("mismatch", lambda d: user_image(d, data=B64["image/gif"], media="image/png")),
    ("dup-tools", lambda d: (_base(d, [user(d)], tools=tools_for(d, ["a", "a"])), "tools")),
    ("unknown-result", lambda d: (tool_round(d, ["c1"], ["c2"]), result_path(d, 1, 0))),
    ("missing-result", lambda d: (tool_round(d, ["c1", "c2"], ["c1"], then_user=True), call_path(d, 1))),
]


@pytest.mark.parametrize("dialect", sorted(COUNT_PATHS))
@pytest.mark.parametrize(("name", "build"), COUNT_CASES, ids=[c[0] for c in COUNT_CASES])
def test_count_endpoints_refuse_the_same(openai_side, name, build, dialect) -> None:
    server, _ = openai_side
    body, param = build(dialect)
    r = httpx.post(server.url + COUNT_PATHS[dialect], json=body, timeout=10)
    assert r.status_code == 400, r.text
    text = r.text
    assert param in text and "invalid_request_error" in text
    body_ok, _ = user_image(dialect, data=B64["image/png"], media="image/png")
    ok = httpx.post(server.url + COUNT_PATHS[dialect], json=body_ok, timeout=10)
    assert ok.status_code == 200 and ok.json()["input_tokens"] > 0, ok.text


# --------------------------------------------------------------------------- Lingma IPC backend


@pytest.fixture(scope="module")
def ipc_side(tmp_path_factory) -> Iterator[tuple[ServerThread, Any, Any]]:
    from fakes.lingma_ipc import LingmaIPCEmulator
    from lingma_proxy.config import load_settings
    emu = LingmaIPCEmulator().start_thread(socket_path=str(tmp_path_factory.mktemp("rt") / "lingma.sock"))
    home = tmp_path_factory.mktemp("home")
    settings = load_settings({"backend": "ipc", "ws_url": emu.url, "ping_interval": 10.0, "cwd": "/w",
                              "allow_local_images": True, "trace": False}, {}, home, home)
    try:
        with ServerThread(settings) as server:
            yield server, emu, tmp_path_factory.mktemp("pics")
    finally:
        emu.stop_thread()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_ipc_gets_the_bytes_of_a_local_image_in_its_own_temp_file(ipc_side, dialect) -> None:
    import os
    server, emu, root = ipc_side
    emu.reset()
    path = root / "screen.png"
    path.write_bytes(MAGIC["image/png"])
    body, _ = user_image(dialect, url=str(path))
    body["model"] = "Qwen3-Coder"
    accepted(server, dialect, body)
    (image,) = emu.images
    assert image["data"] == B64["image/png"] and image["mimeType"] == "image/png"
    assert image["path"] != str(path) and str(path) not in image["uri"]  # the runtime never sees the client's path
    assert not os.path.exists(image["path"])  # the backend's temp file is gone after the turn
    emu.reset()
    bad, param = user_image(dialect, url="ftp://example.com/x.png")
    bad["model"] = "Qwen3-Coder"
    refused(server, _NoUpstream(), dialect, bad, param)
    assert "session/prompt" not in emu.methods()


class _NoUpstream:
    """Stands in for a fake upstream where the check is done another way (the emulator's log)."""

    def messages(self) -> list[Any]:
        return []
