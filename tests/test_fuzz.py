"""Property tests: no JSON value and no truncation of a real request makes a parser or the
server fail with anything but a clear 4xx in the client's dialect."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from fakes.ir_backend import ScriptedBackend, text_script
from lingma_proxy import errors, ir
from lingma_proxy.dialects import anthropic_messages, openai_chat, openai_responses

DIALECTS = [anthropic_messages, openai_chat, openai_responses]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["model", "messages", "input", "role", "content", "type", "text", "tools", "tool_choice",
                         "system", "stream", "max_tokens", "name", "arguments", "tool_calls", "image_url", "source",
                         "thinking", "instructions", "call_id", "output", "id", "function", "parameters",
                         "input_schema", "reasoning", "stop", "tool_use_id", "url", "data", "media_type"]),
        children, max_size=6),
    max_leaves=25,
)

VALID = {
    "anthropic_messages": {"model": "m", "max_tokens": 10, "system": [{"type": "text", "text": "s"}],
                           "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
                           "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                                        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"c": 1}}]},
                                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]},
    "openai_chat": {"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                    "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                                 {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                                 {"role": "tool", "tool_call_id": "c", "content": "r"}]},
    "openai_responses": {"model": "m", "instructions": "s", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
                         "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                                   {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                                   {"type": "function_call_output", "call_id": "c", "output": "r"}]},
}


def _parse(dialect: Any, value: Any) -> None:
    try:
        req = dialect.parse_request(value)
    except errors.InvalidRequest as exc:
        assert exc.message and exc.status == 400
        return
    assert isinstance(req, ir.Request)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.NAME)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_random_json_never_escapes_as_a_crash(dialect: Any, value: Any) -> None:
    _parse(dialect, value)


def _mutations(value: Any) -> list[Any]:
    """Every way of replacing one node of ``value`` by a wrong-typed value."""
    out: list[Any] = []
    wrong = [None, 7, "x", [], {}, True]

    def walk(node: Any, rebuild: Any) -> None:
        for w in wrong:
            if type(w) is not type(node):
                out.append(rebuild(w))
        if isinstance(node, dict):
            for k in node:
                walk(node[k], lambda v, k=k: rebuild({**node, k: v}))
                out.append(rebuild({kk: vv for kk, vv in node.items() if kk != k}))
        elif isinstance(node, list):
            for i in range(len(node)):
                walk(node[i], lambda v, i=i: rebuild(node[:i] + [v] + node[i + 1:]))

    walk(value, lambda v: v)
    return out


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.NAME)
def test_every_single_field_mutation_is_handled(dialect: Any) -> None:
    muts = _mutations(VALID[dialect.NAME])
    assert len(muts) > 100
    for m in muts:
        _parse(dialect, m)


@pytest.fixture(scope="module")
def app_client():
    from lingma_proxy.config import Settings
    from lingma_proxy.server.app import create_app

    backend = ScriptedBackend(scripts=[text_script("ok")])
    with TestClient(create_app(Settings(backend="scripted"), {"scripted": backend}), raise_server_exceptions=False,
                    base_url="http://127.0.0.1:8095") as c:  # a loopback Host (server/origins.py)
        yield c


PATHS = {"anthropic_messages": "/v1/messages", "openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses"}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_truncated_bodies_get_4xx_in_dialect(app_client, name: str) -> None:
    raw = json.dumps(VALID[name]).encode()
    for cut in range(0, len(raw), 7):
        r = app_client.post(PATHS[name], content=raw[:cut])
        assert r.status_code == 400, (cut, r.text)
        body = r.json()
        if name == "anthropic_messages":
            assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        else:
            assert body["error"]["type"] == "invalid_request_error"
        assert "Traceback" not in r.text
    assert app_client.post(PATHS[name], content=raw).status_code == 200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=json_values, path=st.sampled_from(sorted(PATHS.values())))
def test_server_never_answers_5xx_to_client_garbage(app_client, value: Any, path: str) -> None:
    r = app_client.post(path, content=json.dumps(value).encode())
    assert r.status_code < 500, r.text
    assert "Traceback" not in r.text
