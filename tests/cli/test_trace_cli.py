"""`lingma-proxy trace`: list, analyze (token breakdown), compare, replay and replay compare."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from fakes.anthropic_upstream import (
    AReply,
    FakeAnthropicUpstream,
    text_frames,
    tool_frames,
)
from lingma_proxy import ir
from lingma_proxy.cli import trace_analysis as ta
from lingma_proxy.cli.main import cli
from lingma_proxy.dialects import anthropic_messages
from lingma_proxy.exchange import Exchange
from lingma_proxy.features import tokens
from lingma_proxy.storage.traces import TraceWriter

SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude. " * 40
TOOLS = [
    {"name": "Bash", "description": "Run a shell command. " * 30,
     "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
    {"name": "Read", "description": "Read a file.",
     "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
]
BODY = {
    "model": "claude-opus-5-5", "max_tokens": 32000, "stream": True,
    "system": [{"type": "text", "text": SYSTEM}], "tools": TOOLS,
    "messages": [
        {"role": "user", "content": "list the files"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                           "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py\nb.py"}]},
    ],
}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("LINGMA_", "LMSTUDIO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LINGMA_PROXY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_trace(root: Path, i: int, body: dict[str, object] = BODY, frames: list[bytes] | None = None) -> Path:
    ex = Exchange(id=f"t{i}", started=1_760_000_000 + i, dialect="anthropic_messages", path="/v1/messages",
                  client_model=str(body["model"]), backend="anthropic", upstream_model=str(body["model"]),
                  stream=True, status=200, latency_ms=1500.0 + i, ttfb_ms=300.0, request_body=orjson.dumps(body),
                  usage=ir.Usage(input_tokens=1200, output_tokens=40, cache_read_input_tokens=300))
    for f in frames or tool_frames():
        ex.capture(f)
    return TraceWriter(root / "traces").write(ex)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="lingma-proxy")


def test_list_and_compare(isolated: Path) -> None:
    data = isolated / "data"
    first = write_trace(data, 1)
    second = write_trace(data, 2, {**BODY, "tools": TOOLS[:1], "model": "claude-haiku-4-5"}, text_frames())
    r = run("trace", "list")
    assert r.exit_code == 0, r.output
    assert r.output.index(second.name) < r.output.index(first.name)  # newest first
    assert "claude-haiku-4-5" in r.output and "1,500" in r.output  # input incl. cache reads

    r = run("trace", "compare", str(data / "traces"))
    assert r.exit_code == 0, r.output
    assert "tool call" in r.output and "text" in r.output and "2 traces" in r.output


def test_analyze_breakdown_matches_the_estimator(isolated: Path) -> None:
    path = write_trace(isolated / "data", 1)
    req = anthropic_messages.parse_request(BODY)
    r = run("trace", "analyze", str(path))
    assert r.exit_code == 0, r.output
    system = sum(tokens.estimate_text(p.text) for p in req.system) + tokens.MESSAGE_OVERHEAD
    bash = tokens.estimate_tools(req.tools[:1])
    total = tokens.estimate_request(req)
    assert "System prompt" in r.output and f"{system:,}" in r.output
    assert "Tool definitions (2)" in r.output and f"{bash:,}" in r.output
    assert "Messages (3)" in r.output and "tool results" in r.output
    assert f"{total:,}" in r.output and "Upstream reported input" in r.output and "1,500" in r.output
    assert "tool call answer" in r.output
    assert "Messages" in r.output and "System prompt (first 500" not in r.output

    r = run("trace", "analyze", "-v", str(path))
    assert r.exit_code == 0
    assert "System prompt (first 500 characters)" in r.output and "assistant" in r.output


def test_analyze_rejects_what_is_not_a_trace(isolated: Path) -> None:
    bad = isolated / "x.json"
    bad.write_text('{"hello": 1}')
    r = run("trace", "analyze", str(bad))
    assert r.exit_code == 1 and "not a lingma-proxy trace" in r.output


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeAnthropicUpstream]:
    f = FakeAnthropicUpstream().start_thread()
    yield f
    f.stop_thread()


def test_replay_measures_and_keeps_results(isolated: Path, upstream: FakeAnthropicUpstream) -> None:
    path = write_trace(isolated / "data", 1)
    upstream.queue(AReply.sse(text_frames("one two three", output_tokens=30), frame_delay=0.02),
                   AReply.sse(text_frames("again", output_tokens=10), frame_delay=0.01))
    r = run("trace", "replay", str(path), "--runs", "2", "--backend", "anthropic",
            "--anthropic-base-url", upstream.url, "--anthropic-api-key", "sk-ant-api03-test-key-0000")
    assert r.exit_code == 0, r.output
    sent = upstream.messages()[-2].json()
    assert sent["model"] == "claude-opus-5-5" and sent["stream"] is True
    assert [t["name"] for t in sent["tools"]] == ["Bash", "Read"]
    results = sorted((isolated / "data" / "replays").glob("*.json"))
    assert len(results) == 2
    first = orjson.loads(results[0].read_bytes())
    assert first["ok"] and first["backend"] == "anthropic" and first["output_tokens"] == 30
    assert first["output_source"] == "usage" and first["input_tokens"] == 25
    assert first["ttft_ms"] is not None and first["generation_ms"] > 0
    assert first["tokens_per_s"] == pytest.approx(30 / (first["generation_ms"] / 1000), rel=0.01)
    assert first["text"] == "one two three"

    r = run("trace", "replay", "compare")
    assert r.exit_code == 0, r.output
    assert "average" in r.output and "2 runs" in r.output


def test_replay_restores_omitted_images() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/jpeg", "data": "[base64 omitted: 9000 chars, sha256 ab]"}}]}]}
    restored = ta.restore_payloads(body)
    src = restored["messages"][0]["content"][0]["source"]
    assert src["media_type"] == "image/png" and src["data"] == ta.PIXEL_PNG
