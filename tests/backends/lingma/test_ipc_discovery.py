"""Endpoint discovery over fake home directories (no real runtime, no real environment)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from lingma_proxy.backends.lingma.ipc.discovery import (
    Options,
    Probes,
    choose_info,
    discover,
    info_candidates,
    parse_info,
    pipe_path,
    runtime_label,
)

ALIVE = Probes(pid_alive=lambda pid: True)


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def info(port: int = 36510, pid: int = 14060, pipe: str = "") -> str:
    return f'{{"websocketPort":{port},"pid":{pid},"ipcServerPath":"{pipe}","isDev":false}}'


def test_info_file_forms() -> None:
    assert parse_info('{"websocketPort":36510,"pid":14060,"ipcServerPath":"\\\\\\\\.\\\\pipe\\\\lingma-bf0f32"}') \
        .ipc_server_path == "\\\\.\\pipe\\lingma-bf0f32"  # type: ignore[union-attr]
    legacy = parse_info("36510\n14060\n\\\\.\\pipe\\lingma-bf0f32\n")
    assert legacy is not None and (legacy.websocket_port, legacy.pid, legacy.ipc_server_path) == (
        36510, 14060, "\\\\.\\pipe\\lingma-bf0f32")
    assert parse_info('{"pid": 3}') is None and parse_info("") is None and parse_info("{broken") is None
    assert parse_info('{"websocketPort": "37109"}').websocket_port == 37109  # type: ignore[union-attr]


def test_candidate_order_qodercn_before_lingma_and_jetbrains_base_itself(tmp_path: Path) -> None:
    paths = [str(p.relative_to(tmp_path)) for p in info_candidates(tmp_path, {}, "darwin")]
    assert paths[0] == "Library/Application Support/.info.json"
    assert paths.index("Library/Application Support/QoderCN/SharedClientCache/.info.json") < paths.index(
        "Library/Application Support/Lingma/SharedClientCache/.info.json")
    assert paths.index(".qoder-cn/shared_client/.info.json") < paths.index(".lingma/.info.json")
    assert paths.index(".lingma/.info.json") < paths.index(".lingma/.info")
    assert ".lingma/vscode/SharedClientCache/.info" in paths  # macOS folds case: one of the two spellings
    assert ".lingma/vscode/sharedClientCache/.info" not in paths
    linux = [str(p.relative_to(tmp_path)) for p in info_candidates(tmp_path, {}, "linux")]
    assert linux[0] == ".config/.info.json" and ".config/lingma/SharedClientCache/.info.json" in linux
    assert ".lingma/vscode/sharedClientCache/.info" in linux  # the original reference's own location
    xdg = info_candidates(tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, "linux")
    assert xdg[0] == tmp_path / "xdg" / ".info.json"


def test_jetbrains_info_file_gives_a_websocket_endpoint(tmp_path: Path) -> None:
    write(tmp_path / ".lingma" / ".info.json", info(37010))
    d = discover(Options(), home=tmp_path, env={}, platform="linux", probes=ALIVE)
    assert d.endpoint is not None and d.endpoint.address == "ws://127.0.0.1:37010/"
    assert (d.endpoint.transport, d.endpoint.kind, d.endpoint.runtime) == (
        "websocket", "lingma", "Lingma (JetBrains plugin)")
    assert any("port 37010; pid 14060 running" in o for _, o in d.tried)


def test_qodercn_wins_over_lingma_and_alive_over_stale(tmp_path: Path) -> None:
    write(tmp_path / ".config" / "Lingma" / "SharedClientCache" / ".info.json", info(1111, pid=1))
    write(tmp_path / ".qodercn" / "SharedClientCache" / ".info.json", info(2222, pid=2))
    d = discover(Options(), home=tmp_path, env={}, platform="linux", probes=ALIVE)
    assert d.endpoint is not None and d.endpoint.address.endswith(":2222/") and d.endpoint.kind == "qodercn"
    stale = Probes(pid_alive=lambda pid: pid == 1)
    d = discover(Options(), home=tmp_path, env={}, platform="linux", probes=stale)
    assert d.endpoint is not None and d.endpoint.address.endswith(":1111/") and d.endpoint.kind == "lingma"
    assert any("NOT running (stale file)" in o for _, o in d.tried)
    assert choose_info([]) is None


def test_explicit_overrides_come_first(tmp_path: Path) -> None:
    write(tmp_path / ".lingma" / ".info.json", info(37010))
    d = discover(Options(ws_url="ws://127.0.0.1:9/"), home=tmp_path, env={}, platform="linux")
    assert d.endpoint is not None and d.endpoint.source.startswith("--ws-url")
    d = discover(Options(pipe="/tmp/qodercn.sock"), home=tmp_path, env={}, platform="linux")
    assert d.endpoint is not None and (d.endpoint.transport, d.endpoint.kind) == ("unix", "qodercn")
    custom = write(tmp_path / "elsewhere.json", info(4444))
    d = discover(Options(shared_client_info=str(custom)), home=tmp_path, env={}, platform="linux", probes=ALIVE)
    assert d.endpoint is not None and d.endpoint.address.endswith(":4444/")


def test_unix_sockets_newest_wins_and_ipc_server_path(tmp_path: Path) -> None:
    old = tmp_path / ".lingma" / "lingma.sock"
    new = tmp_path / ".qodercn" / "qodercn.sock"
    for p in (old, new):
        p.parent.mkdir(parents=True)
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.close()
    os.utime(old, (time.time() - 100, time.time() - 100))
    d = discover(Options(), home=tmp_path, env={}, platform="linux")
    assert d.endpoint is not None and d.endpoint.address == str(new) and d.endpoint.transport == "unix"
    d = discover(Options(ipc_socket=str(old)), home=tmp_path, env={}, platform="linux")
    assert d.endpoint is not None and d.endpoint.address == str(old)
    write(tmp_path / ".lingma" / ".info.json", f'{{"pid": 5, "ipcServerPath": "{old}"}}')
    d = discover(Options(transport="pipe"), home=tmp_path, env={}, platform="linux", probes=ALIVE)
    assert d.endpoint is not None and d.endpoint.address == str(old) and "ipcServerPath" in d.endpoint.source


def test_windows_pipes_and_transport_choice(tmp_path: Path) -> None:
    appdata = tmp_path / "AppData" / "Roaming"
    pipes = Probes(list_pipes=lambda: ["other", "lingma-aaaa", "qodercn-bbbb", "lingma-cccc"], pid_alive=lambda p: None)
    d = discover(Options(), home=tmp_path, env={"APPDATA": str(appdata)}, platform="win32", probes=pipes)
    assert d.endpoint is not None and d.endpoint.address == "\\\\.\\pipe\\qodercn-bbbb"
    assert (d.endpoint.transport, d.endpoint.kind) == ("pipe", "qodercn")
    write(appdata / "Lingma" / "SharedClientCache" / ".info", "36510\n14060\n\\\\.\\pipe\\lingma-bf0f32\n")
    d = discover(Options(), home=tmp_path, env={"APPDATA": str(appdata)}, platform="win32", probes=pipes)
    assert d.endpoint is not None and d.endpoint.address == "\\\\.\\pipe\\lingma-bf0f32"
    d = discover(Options(transport="websocket"), home=tmp_path, env={"APPDATA": str(appdata)}, platform="win32",
                 probes=pipes)
    assert d.endpoint is not None and d.endpoint.address == "ws://127.0.0.1:36510/"
    assert pipe_path("lingma-ipc", "win32") == "\\\\.\\pipe\\lingma-ipc" and pipe_path("x", "linux") == "x"


def test_nothing_found_says_what_to_do(tmp_path: Path) -> None:
    d = discover(Options(), home=tmp_path, env={}, platform="linux")
    assert d.endpoint is None and "start QoderCN" in d.problem and "--ws-url" in d.problem
    assert any("info-file locations" in w for w, _ in d.tried) and any("socket locations" in w for w, _ in d.tried)
    write(tmp_path / ".lingma" / ".info.json", '{"pid": 3}')
    d = discover(Options(), home=tmp_path, env={}, platform="linux")
    assert any("no websocketPort" in o for _, o in d.tried)


@pytest.mark.parametrize(("hints", "label"), [
    (("/h/.qoder-cn/shared_client/.info.json",), "QoderCN"),
    (("/h/.lingma/vscode/sharedClientCache/.info",), "Lingma (VS Code extension)"),
    (("C:\\Users\\me\\.lingma\\.info.json",), "Lingma (JetBrains plugin)"),
    (("/h/.config/Lingma/SharedClientCache/.info.json",), "Lingma"),
])
def test_runtime_labels(hints: tuple[str, ...], label: str) -> None:
    assert runtime_label(*hints)[1] == label
