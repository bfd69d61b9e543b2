"""The command line: serve as the default command, reference-style flags, `config`, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from isolation import isolate
from lingma_proxy import __version__
from lingma_proxy.cli.main import cli
from lingma_proxy.config import KEYS, Settings

SECRET = "sk-live-0123456789abcdefSECRETxyz"
OPENAI = ["--backend", "openai", "--openai-base-url", "http://127.0.0.1:1234/v1"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config file or LINGMA_* variable of the machine running the tests leaks in."""
    return isolate(tmp_path, monkeypatch, ("LINGMA_", "LMSTUDIO_"))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Replace the server's run() so `serve` hands us its Settings instead of listening."""
    calls: list[Settings] = []
    fake = types.ModuleType("lingma_proxy.server.app")
    fake.run = calls.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lingma_proxy.server.app", fake)
    return calls


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, prog_name="lingma-proxy")


# ----------------------------------------------------------------------------- serve


@pytest.mark.parametrize("args,port,backend", [
    ([], 8095, "auto"),
    (["serve"], 8095, "auto"),
    (["serve", "--port", "9001", *OPENAI], 9001, "openai"),
    (["--port", "9002", *OPENAI], 9002, "openai"),  # the reference binary's usage: no command
    (["-port", "9003", "-backend=openai", "-openai-base-url", "http://127.0.0.1:1234/v1"], 9003, "openai"),
    (["-port=9004", "--", ], 9004, "auto"),
])
def test_serve_is_the_default_command_and_takes_reference_flags(
    served: list[Settings], args: list[str], port: int, backend: str
) -> None:
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert len(served) == 1 and (served[0].port, served[0].backend) == (port, backend)


def test_serve_passes_every_setting_through(served: list[Settings], isolated: Path) -> None:
    (isolated / "lingma-proxy.json").write_text('{"model": "from-file", "timeout": 5}')
    r = run("--max-concurrent", "3", "--api-key", SECRET, "--tool-mode", "emulate", env={"LINGMA_PROXY_TIMEOUT": "9"})
    assert r.exit_code == 0, r.output
    s = served[0]
    assert (s.max_concurrent, s.api_key, s.tool_mode, s.model, s.timeout) == (3, SECRET, "emulate", "from-file", 9.0)
    assert s.origins["timeout"] == "env LINGMA_PROXY_TIMEOUT" and s.config_file == str(isolated / "lingma-proxy.json")


@pytest.mark.parametrize("args,field,value", [
    (["--remote-fallback=false"], "remote_fallback", False),
    (["-remote-fallback=false"], "remote_fallback", False),
    (["--remote-fallback"], "remote_fallback", True),
    (["--no-remote-fallback"], "remote_fallback", False),
    (["--no-record"], "record", False),
    (["--trace"], "trace", True),
    (["--no-trace"], "trace", False),
    ([], "trace", None),
    (["--remote-fallback-models", "a,b"], "remote_fallback_models", ("a", "b")),
    (["--transport", "ws", "--ws-url", "ws://127.0.0.1:36510"], "ws_url", "ws://127.0.0.1:36510/"),
])
def test_boolean_and_list_flags(served: list[Settings], args: list[str], field: str, value: Any) -> None:
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert getattr(served[0], field) == value


def test_contradicting_boolean_flags_are_a_usage_error(served: list[Settings]) -> None:
    r = run("--record", "--no-record")
    assert r.exit_code == 2 and "contradict" in r.stderr and not served


def test_every_setting_has_a_flag() -> None:
    from lingma_proxy.cli.serve import serve

    opts = {o for p in serve.params for o in p.opts}
    assert {k.option for k in KEYS} | {"--config"} <= opts


# ----------------------------------------------------------------------------- exit code 2


@pytest.mark.parametrize("args,file,message", [
    (["--port", "70000"], None, "port must be between 1 and 65535, got 70000 (from flag --port)"),
    (["--host", "0.0.0.0"], None, "refusing to listen on 0.0.0.0 (from flag --host) without an API key"),
    ([], '{"prot": 1}', "unknown configuration key 'prot' (in {dir}/lingma-proxy.json); did you mean 'port'?"),
    ([], '{"port": "1"}', 'port must be an integer, not a string, got "1" (from {dir}/lingma-proxy.json)'),
    ([], '{"port": 1,}', "config file {dir}/lingma-proxy.json is not valid JSON: trailing comma is not allowed"),
    (["--config", "missing.json"], None, "config file {dir}/missing.json (from flag --config) does not exist"),
    (["--backend", "openai"], None, "the openai backend needs a server URL"),
])
@pytest.mark.parametrize("command", ["serve", "config"])
def test_configuration_errors_exit_2_with_one_clear_line(
    served: list[Settings], isolated: Path, command: str, args: list[str], file: str | None, message: str
) -> None:
    if file is not None:
        (isolated / "lingma-proxy.json").write_text(file)
    r = run(command, *args)
    assert r.exit_code == 2
    assert r.stderr.startswith("lingma-proxy: configuration error: " + message.format(dir=isolated))
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output and not served and r.stdout == ""


def test_insecure_no_auth_allows_a_public_host(served: list[Settings]) -> None:
    assert run("--host", "0.0.0.0", "--insecure-no-auth").exit_code == 0
    assert served[0].host == "0.0.0.0" and served[0].insecure_no_auth is True


def test_click_usage_errors_also_exit_2() -> None:
    assert run("serve", "--no-such-flag").exit_code == 2
    assert run("no-such-command").exit_code == 2


# ----------------------------------------------------------------------------- config


def test_config_table_shows_values_and_origins(isolated: Path) -> None:
    (isolated / "lingma-proxy.json").write_text('{"model": "qwen3", "max_concurrent": 4}')
    r = run("config", "--port", "9100", env={"LMSTUDIO_URL": "http://127.0.0.1:1234"})
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:4]]
            for line in r.stdout.splitlines() if line.count("│") == 4 and line.split("│")[1].strip()}
    assert rows["port"] == ["9100", "flag --port"]
    assert rows["model"] == ["qwen3", str(isolated / "lingma-proxy.json")]
    assert rows["max_concurrent"] == ["4", str(isolated / "lingma-proxy.json")]
    assert rows["openai_base_url"][1] == "env LMSTUDIO_URL"
    assert rows["host"] == ["127.0.0.1", "default"]
    assert rows["backends"] == ["openai: openai http://127.0.0.1:1234/v1", "derived"]
    assert "config file:" in r.stdout


def test_config_json_is_machine_readable(isolated: Path) -> None:
    (isolated / "lingma-ipc-proxy.json").write_text('{"websocket_url": "ws://127.0.0.1:36510", "backend": "ipc"}')
    r = run("config", "--json", "--timeout", "30")
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    assert doc["config_file"] == str(isolated / "lingma-ipc-proxy.json")
    assert doc["settings"]["ws_url"] == "ws://127.0.0.1:36510/" and doc["settings"]["timeout"] == 30.0
    assert doc["origins"]["ws_url"] == str(isolated / "lingma-ipc-proxy.json")
    assert doc["origins"]["timeout"] == "flag --timeout" and doc["origins"]["port"] == "default"
    assert doc["settings"]["backends"] == [
        {"name": "ipc", "type": "ipc", "base_url": "ws://127.0.0.1:36510/", "api_key": None, "model": "", "options": {}}]


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_config_output_never_contains_a_secret(isolated: Path, json_flag: list[str]) -> None:
    (isolated / "lingma-proxy.json").write_text(orjson.dumps({
        "anthropic_api_key": SECRET + "-file",
        "backends": {"claude": {"type": "anthropic", "api_key": SECRET + "-backend"}},
    }).decode())
    r = run("config", *json_flag, "--api-key", SECRET, "--remote-proxy-url", "http://me:hunter2@proxy:3128",
            env={"LMSTUDIO_API_KEY": SECRET + "-env", "LMSTUDIO_URL": "http://127.0.0.1:1234"})
    assert r.exit_code == 0, r.output
    for leaked in (SECRET, "0123456789abcdef", "hunter2"):
        assert leaked not in r.output
    assert "sk-…" in r.output and "***" in r.output


# ----------------------------------------------------------------------------- version and help


def test_version() -> None:
    assert run("version").stdout == f"lingma-proxy {__version__}\n"
    assert __version__ in run("--version").stdout


def test_help_lists_the_commands() -> None:
    r = run("--help")
    assert r.exit_code == 0 and all(c in r.stdout for c in ("serve", "config", "version"))
    assert "--openai-base-url" in run("serve", "-h").stdout


# ----------------------------------------------------------------------------- the installed script


def _script() -> str:
    path = Path(sys.executable).parent / "lingma-proxy"
    if not path.exists():
        pytest.skip("console script not installed in this environment")
    return str(path)


def test_installed_console_script(isolated: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINGMA_", "LMSTUDIO_"))}
    env.update(HOME=str(isolated / "home"), LMSTUDIO_API_KEY=SECRET, LINGMA_PROXY_PORT="9200")
    ok = subprocess.run([_script(), "config", "--json", "-model", "m1"], cwd=isolated, env=env, check=False,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    doc = orjson.loads(ok.stdout)
    assert (doc["settings"]["port"], doc["origins"]["port"]) == (9200, "env LINGMA_PROXY_PORT")
    assert (doc["settings"]["model"], doc["origins"]["model"]) == ("m1", "flag --model")
    assert SECRET not in ok.stdout and doc["settings"]["openai_api_key"] == "sk-…Txyz"

    bad = subprocess.run([_script(), "--port", "70000"], cwd=isolated, env=env, check=False,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "lingma-proxy: configuration error: port must be between 1 and 65535, got 70000 (from flag --port)\n"
