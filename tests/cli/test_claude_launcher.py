"""`lingma-proxy claude`: a fake `claude` on PATH calls the proxy the launcher started (or the one
already running), and the launcher exits with its code and stops the proxy."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from fakes.anthropic_upstream import FakeAnthropicUpstream
from fakes.ir_backend import ScriptedBackend, text_script
from lingma_proxy.cli.main import cli
from server_harness import ServerThread, make_settings

FAKE_CLAUDE = """#!{python}
import json, os, sys, urllib.request
base = os.environ["ANTHROPIC_BASE_URL"]
body = json.dumps({{"model": "claude-opus-5-5", "max_tokens": 50,
                   "messages": [{{"role": "user", "content": "hi"}}]}}).encode()
headers = {{"content-type": "application/json", "anthropic-version": "2023-06-01"}}
if os.environ.get("ANTHROPIC_API_KEY"):
    headers["x-api-key"] = os.environ["ANTHROPIC_API_KEY"]
req = urllib.request.Request(base + "/v1/messages?beta=true", data=body, headers=headers)
answer = json.load(urllib.request.urlopen(req, timeout=20))
with open(os.environ["FAKE_CLAUDE_OUT"], "w") as f:
    json.dump({{"args": sys.argv[1:], "base": base, "key": os.environ.get("ANTHROPIC_API_KEY"),
               "answer": answer}}, f)
sys.exit(7)
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith(("LINGMA_", "LMSTUDIO_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "claude"
    script.write_text(FAKE_CLAUDE.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_CLAUDE_OUT": str(tmp_path / "out.json"),
            "LINGMA_PROXY_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeAnthropicUpstream]:
    f = FakeAnthropicUpstream().start_thread()
    yield f
    f.stop_thread()


def invoke(args: list[str], env: dict[str, str]) -> Result:
    """``env`` must already be in os.environ (monkeypatched): claude inherits it."""
    assert all(os.environ.get(k) == v for k, v in env.items())
    return CliRunner().invoke(cli, args, prog_name="lingma-proxy")


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) != 0


def test_launcher_starts_proxy_runs_claude_and_stops(env: dict[str, str], upstream: FakeAnthropicUpstream,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = invoke(["claude", "--backend", "anthropic", "--anthropic-base-url", upstream.url,
                     "-p", "hello world", "--model", "claude-haiku-4-5"], env)
    assert result.exit_code == 7, result.output
    out = orjson.loads(Path(env["FAKE_CLAUDE_OUT"]).read_bytes())
    assert out["args"] == ["-p", "hello world", "--model", "claude-haiku-4-5"]
    assert out["base"].startswith("http://127.0.0.1:") and out["answer"]["content"][0]["text"] == "Hello from Anthropic"
    assert out["key"] is None  # Anthropic without a configured key: claude's own credentials go upstream
    assert upstream.messages()[-1].query == "beta=true"
    assert refused(out["base"])  # stopped with claude
    assert "serving Claude Code at" in result.output
    # on by default for the anthropic backend: the launcher's request was traced
    assert list((Path(env["LINGMA_PROXY_DATA_DIR"]) / "traces" / "anthropic").glob("*.json"))


def test_launcher_uses_a_running_proxy(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = ScriptedBackend()
    scripted.push(*text_script("from the running proxy"))
    with ServerThread(make_settings(), {"scripted": scripted}) as s:
        env = {**env, "LINGMA_PROXY_PORT": str(s.port)}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        result = invoke(["claude", "--", "--print", "x"], env)
        assert result.exit_code == 7, result.output
        out = orjson.loads(Path(env["FAKE_CLAUDE_OUT"]).read_bytes())
        assert out["base"] == s.url and out["args"] == ["--print", "x"]
        assert out["answer"]["content"][0]["text"] == "from the running proxy"
        assert out["key"] == "lingma-proxy"  # a placeholder so claude does not ask to log in
        assert "using the proxy running at" in result.output


def test_missing_claude_is_a_clear_error(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli, ["claude", "-p", "x"], prog_name="lingma-proxy")
    assert result.exit_code == 127
    assert "is not installed or not on PATH" in result.output and "npm install -g @anthropic-ai/claude-code" in result.output
