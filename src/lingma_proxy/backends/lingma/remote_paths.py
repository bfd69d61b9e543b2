"""Where Lingma and QoderCN keep their login cache, logs and config on macOS, Windows and Linux.

Pure: functions of the environment and the home directory that build path lists (nothing is
touched here). QoderCN comes before Lingma everywhere, as in the reference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_WIN_ROOTS = ("APPDATA", "LOCALAPPDATA", "ProgramData")
_WIN_CACHE = ("QoderCN", "qodercn", "QoderCN/SharedClientCache", "Qoder", "Qoder/SharedClientCache",
              "Lingma", "lingma", "Lingma/SharedClientCache")
_VSCODE = ("Code", "Code - OSS", "VSCodium", "Cursor", "Windsurf")
_EXT = "User/globalStorage/alibaba-cloud.tongyi-lingma"


def _dedupe(paths: list[Path]) -> list[Path]:
    seen: set[str] = set()
    out: list[Path] = []
    for p in paths:
        key = os.path.normpath(str(p)).lower()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _env_roots(env: Mapping[str, str], names: tuple[str, ...]) -> list[Path]:
    return [Path(env[n]) for n in names if env.get(n)]


def cache_dirs(env: Mapping[str, str], home: Path, override: str = "") -> list[Path]:
    """Candidate login-cache directories in search order; ``override`` (``LINGMA_CACHE_DIR``,
    ``QODERCN_CACHE_DIR`` or ``--cache-dir``) replaces the whole list."""
    override = override or env.get("LINGMA_CACHE_DIR", "") or env.get("QODERCN_CACHE_DIR", "")
    if override:
        return [Path(override).expanduser()]
    mac = home / "Library" / "Application Support"
    cfg = home / ".config"
    d = [
        home / ".qoder-cn", home / ".qoder-cn" / "shared_client", home / ".qoder-cn" / "vscode" / "sharedClientCache",
        home / ".qodercn", home / ".qodercn" / "vscode" / "sharedClientCache",
        mac / "QoderCN" / "SharedClientCache", mac / "Qoder" / "SharedClientCache",
        cfg / "QoderCN", cfg / "QoderCN" / "SharedClientCache", cfg / "Qoder" / "SharedClientCache",
        home / ".local" / "share" / "QoderCN",
        home / ".lingma", home / ".lingma" / "vscode" / "sharedClientCache",
        mac / "Lingma" / "SharedClientCache",
        cfg / "Lingma", cfg / "Lingma" / "SharedClientCache", home / ".local" / "share" / "Lingma",
    ]  # fmt: skip
    for root in _env_roots(env, _WIN_ROOTS):
        d += [root / sub for sub in _WIN_CACHE]
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg:
        x = Path(xdg)
        d += [x / "QoderCN", x / "QoderCN" / "SharedClientCache", x / "Lingma", x / "Lingma" / "SharedClientCache"]
    for root in [cfg, *([Path(xdg)] if xdg else [])]:
        d += [root / app / _EXT for app in _VSCODE]
    return _dedupe(d)


def log_roots(env: Mapping[str, str], home: Path) -> list[Path]:
    """Directories whose recent logs may name the machine id or the service endpoint."""
    mac = home / "Library" / "Application Support"
    r = [
        home / ".qoder-cn" / "logs", home / ".qoder-cn" / "shared_client" / "logs",
        home / ".qodercn" / "logs", home / ".qodercn" / "vscode" / "sharedClientCache" / "logs",
        home / ".lingma" / "logs", home / ".lingma" / "vscode" / "sharedClientCache" / "logs",
    ]  # fmt: skip
    for app in ("QoderCN", "Qoder", "Lingma"):
        r += [mac / app / "logs", mac / app / "SharedClientCache" / "logs"]
    for root in _env_roots(env, _WIN_ROOTS):
        for app in ("QoderCN", "Qoder", "Lingma"):
            r += [root / app / "logs", root / app / "SharedClientCache" / "logs"]
        r.append(root / "Code" / _EXT / "logs")
    for var, fallback in (("XDG_CONFIG_HOME", home / ".config"), ("XDG_STATE_HOME", home / ".local" / "state")):
        bases = [Path(env[var])] if env.get(var) else []
        for base in [*bases, fallback]:
            r += [base / "QoderCN" / "logs", base / "Lingma" / "logs"]
    return _dedupe(r)


def hint_files(env: Mapping[str, str], home: Path) -> list[Path]:
    """Config and log files that may name the service endpoint, in the reference's order."""
    mac = home / "Library" / "Application Support"
    f: list[Path] = []
    for base in (home / ".qoder-cn" / "shared_client", home / ".qodercn"):
        f += [base / "extension" / "server" / "config.json", base / "extension" / "local" / "config.json",
              base / "bin" / "config.json"]
    f.append(home / ".qoder-cn" / "shared_client" / "cache" / "app-config.json")
    f += [mac / app / "SharedClientCache" / "cache" / "app-config.json" for app in ("QoderCN", "Qoder", "Lingma")]
    lingma = home / ".lingma"
    f += [lingma / "extension" / "server" / "config.json", lingma / "extension" / "local" / "config.json",
          lingma / "bin" / "config.json"]
    f += [home / ".config" / "lingma-proxy" / "config.json", home / ".config" / "lingma-ipc-proxy" / "config.json"]
    f += [home / ".qoder-cn" / "shared_client" / "logs" / n for n in ("qodercn.log", "qodercn-extension.log")]
    for base in (home / ".qodercn" / "logs", home / ".qodercn" / "vscode" / "sharedClientCache" / "logs"):
        f += [base / "qodercn.log", base / "qodercn-extension.log"]
    for base in (lingma / "logs", lingma / "vscode" / "sharedClientCache" / "logs"):
        f += [base / "lingma.log", base / "lingma-extension.log"]
    for root in _env_roots(env, _WIN_ROOTS):
        for app in ("QoderCN", "Qoder", "Lingma"):
            for sub in ("SharedClientCache/cache", "shared_client/cache", "cache"):
                f.append(root / app / sub / "app-config.json")
    return _dedupe(f)


def dir_log_files(d: Path) -> list[Path]:
    """The named logs of one cache directory, tried before any directory listing."""
    return [d / "logs" / n for n in ("lingma.log", "Lingma.log", "main.log", "renderer.log", "sharedprocess.log")]
