"""Finding the remote API host on disk: hint files and logs, and the last host that worked."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import orjson

from . import remote_baseurl, remote_paths
from .remote_cache import read_tail, recent_logs

log = logging.getLogger("lingma_proxy.remote")

_MAX_HINT_BYTES = 4 * 1024 * 1024
_STATE_NAME = "remote-base-url.json"


def user_config_dir(env: Mapping[str, str], home: Path, platform: str = sys.platform) -> Path:
    """Go's ``os.UserConfigDir``: where the reference keeps its last good host."""
    if platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"])
    if platform == "darwin":
        return home / "Library" / "Application Support"
    return Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"


def state_files(env: Mapping[str, str], home: Path) -> tuple[Path, Path]:
    """(ours, the reference's) ``remote-base-url.json``."""
    base = user_config_dir(env, home)
    return base / "lingma-proxy" / _STATE_NAME, base / "lingma-ipc-proxy" / _STATE_NAME


def read_last_good(env: Mapping[str, str], home: Path) -> str | None:
    for path in state_files(env, home):
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        url = doc.get("url") if isinstance(doc, dict) else None
        if isinstance(url, str) and (red := remote_baseurl.reduce(url)):
            return red
    return None


def remember(url: str, env: Mapping[str, str], home: Path) -> None:
    """Keep ``url`` as the last good host (best effort: a read-only home only loses the hint)."""
    path = state_files(env, home)[0]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"url": url, "updated_at": stamp}, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, path)
    except OSError as e:
        log.debug("cannot remember the remote host in %s: %s", path, e)


def _hint_of(path: Path) -> list[str]:
    try:
        if not path.is_file():
            return []
        if path.suffix.lower() == ".json" and path.stat().st_size <= _MAX_HINT_BYTES:
            try:
                found = remote_baseurl.from_json(orjson.loads(path.read_bytes()))
            except orjson.JSONDecodeError:
                found = []
            if found:
                return found
        url = remote_baseurl.from_text(read_tail(path, _MAX_HINT_BYTES))
    except OSError:
        return []
    return [url] if url else []


def scan_hints(env: Mapping[str, str], home: Path) -> list[tuple[str, str]]:
    """(host, file) pairs hinted by Lingma/QoderCN config files and recent logs, in file order."""
    out: list[tuple[str, str]] = []
    files = remote_paths.hint_files(env, home)
    for root in remote_paths.log_roots(env, home):
        if root.is_dir():
            files += recent_logs(root)
    seen: set[Path] = set()
    for f in files:
        if f in seen:
            continue
        seen.add(f)
        out += [(url, str(f)) for url in _hint_of(f)]
    return out
