"""``lingma-proxy doctor`` over fake home directories, with and without a runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakes.lingma_ipc import LingmaIPCEmulator
from lingma_proxy.cli.main import cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for var in ("XDG_CONFIG_HOME", "APPDATA", "LOCALAPPDATA", "ProgramData", "LINGMA_PROXY_WS_URL",
                "LINGMA_IPC_PIPE", "LINGMA_PROXY_PIPE", "LINGMA_IPC_SOCKET", "LINGMA_SHARED_CLIENT_INFO",
                "LINGMA_PROXY_SHARED_CLIENT_INFO", "LINGMA_PROXY_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def emu() -> Iterator[LingmaIPCEmulator]:
    e = LingmaIPCEmulator().start_thread()
    yield e
    e.stop_thread()


def test_nothing_found_says_what_to_do(home: Path) -> None:
    r = CliRunner().invoke(cli, ["doctor"])
    assert r.exit_code == 1
    assert "info-file locations: searched" in r.output and "No runtime found." in r.output
    assert "Start QoderCN" in r.output and "--ws-url ws://127.0.0.1:PORT/" in r.output


def test_a_jetbrains_runtime_is_found_checked_and_explained(home: Path, emu: LingmaIPCEmulator) -> None:
    info = emu.write_info(home / ".lingma")
    r = CliRunner().invoke(cli, ["doctor", "--session"])
    assert r.exit_code == 0, r.output
    assert f"{info}: port {emu.port}" in r.output and "running" in r.output
    assert "Found: Lingma (JetBrains plugin)" in r.output and f"endpoint   {emu.url}" in r.output
    assert "Kimi-K2.6 (kmodel), Auto (org_auto), Qwen3-Coder (dashscope_qwen3_coder)" in r.output
    assert "Chat session check: ok (opened and deleted sess-" in r.output
    assert emu.live_sessions() == []


def test_a_stale_info_file_and_json_output(home: Path, emu: LingmaIPCEmulator) -> None:
    emu.write_info(home / ".qodercn", pid=2 ** 22 + 12345)  # no such process
    r = CliRunner().invoke(cli, ["doctor", "--json", "--ws-url", "ws://127.0.0.1:9/"])
    report = json.loads(r.output)
    assert r.exit_code == 1 and report["runtime"]["source"].startswith("--ws-url")
    assert "cannot connect" in report["error"]
    r = CliRunner().invoke(cli, ["doctor"])
    assert "NOT running (stale file)" in r.output and "Found: QoderCN" in r.output and r.exit_code == 0


def test_vscode_only_runtime_is_named(home: Path, emu: LingmaIPCEmulator) -> None:
    emu.faults.session_new_error = {"code": -32601, "message": "Method not found"}
    try:
        r = CliRunner().invoke(cli, ["doctor", "--session", "--ws-url", emu.url])
    finally:
        emu.faults.session_new_error = None
    assert r.exit_code == 0 and "Chat session check: this runtime cannot open chat sessions" in r.output
