"""Exporting a login for use elsewhere: a portable ``credentials.json`` and a server bundle.

Credentials are written atomically (a temporary file renamed into place) with mode 0600 in a
0700 directory. The bundle is a zip a server needs nothing else for: the credentials, a
config for ``--backend remote`` listening on all interfaces behind a generated API key, a
``docker-compose.yml`` that maps the same port inside and out (the reference's mapped any port
to 8095 while its config listened elsewhere), a ``Dockerfile`` and a README.
"""

from __future__ import annotations

import io
import os
import secrets
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .remote_credentials import Credential, dump_credentials_file, expire_text

DEFAULT_PORT = 8095
_LOOPBACK = ("", "127.0.0.1", "localhost", "::1")


def _atomic_write(path: Path, data: bytes, mode: int, dir_mode: int) -> None:
    path.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # not on Windows
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.chmod(path, mode)


def write_credentials(path: str | Path, cred: Credential) -> Path:
    """The reference's portable ``credentials.json`` at ``path`` (``~`` expanded), mode 0600."""
    p = Path(path).expanduser()
    _atomic_write(p, dump_credentials_file(cred), 0o600, 0o700)
    return p


def report(path: Path, cred: Credential, what: str = "exported credentials") -> list[str]:
    """What the export commands print (no secret: ids are masked)."""
    lines = [f"{what}: {path}", f"credential source: {cred.source}"]
    if cred.token_expire_ms:
        lines.append(f"token expire at: {expire_text(cred.token_expire_ms)}")
        if cred.expired(int(time.time() * 1000)):
            lines.append("warning: exported credential is already expired")
    lines += [f"account: {cred.account()}", "keep the exported file private; it contains login secrets"]
    return lines


def server_config(*, port: int, api_key: str, base_url: str, proxy_url: str, version: str, model: str,
                  fallback: bool, fallback_models: Sequence[str], identity: str = "") -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "host": "0.0.0.0",
        "port": port,
        "api_key": api_key,
        "backend": "remote",
        "remote_auth_file": "/credentials.json",
        "remote_version": version,
        "model": model or "kmodel",
        "timeout": 0,
        "remote_fallback": fallback,
        "remote_fallback_models": list(fallback_models),
    }
    if base_url:
        cfg["remote_base_url"] = base_url
    if proxy_url:
        cfg["remote_proxy_url"] = proxy_url
    if identity:
        cfg["remote_identity"] = identity
    return cfg


def compose_yaml(port: int) -> str:
    return f"""services:
  lingma-proxy:
    build: .
    image: lingma-proxy:local
    restart: unless-stopped
    ports:
      - "{port}:{port}"
    volumes:
      - ./credentials.json:/credentials.json:ro
      - ./lingma-proxy.json:/lingma-proxy.json:ro
    command: ["serve", "--config", "/lingma-proxy.json"]
"""


def dockerfile(port: int) -> str:
    return f"""# The lingma-proxy server. LINGMA_PROXY_SPEC is what pip installs: the package name, a wheel
# copied next to this file (COPY it first), or a git URL such as git+https://host/you/lingma-proxy.
FROM python:3.12-slim
ARG LINGMA_PROXY_SPEC=lingma-proxy
RUN pip install --no-cache-dir "$LINGMA_PROXY_SPEC" && useradd --create-home proxy
USER proxy
EXPOSE {port}
ENTRYPOINT ["lingma-proxy"]
CMD ["serve", "--config", "/lingma-proxy.json"]
"""


def readme(port: int, api_key: str, cred: Credential) -> str:
    expiry = f"\nThe login expires at {expire_text(cred.token_expire_ms)}." if cred.token_expire_ms else ""
    return f"""lingma-proxy server bundle
==========================

This bundle runs lingma-proxy on a server with your Lingma login (account {cred.account()}).
Only the Lingma remote API works there: the IDE runtime (IPC) and the IPC image route need
the Lingma app on the same machine.{expiry}

1. Copy this zip to the server and unzip it into a directory of its own.
2. docker compose up -d --build
   (without Docker: pip install lingma-proxy, then
    lingma-proxy serve --config lingma-proxy.json --remote-auth-file ./credentials.json)
3. Point clients at the server, sending the API key below:
     OpenAI Chat / Responses:  http://SERVER:{port}/v1   (e.g. http://127.0.0.1:{port}/v1/chat/completions)
     Anthropic (Claude Code):  ANTHROPIC_BASE_URL=http://SERVER:{port}  ANTHROPIC_AUTH_TOKEN=<key>
   API key: {api_key}

credentials.json holds login secrets: keep it (and this zip) private, readable by you only.
When the server starts answering authentication errors, log in to Lingma again on your
machine and export a fresh bundle (lingma-proxy export-bundle PATH.zip).
Put the server behind TLS (a reverse proxy) before exposing it beyond a private network.
"""


def bundle_bytes(cred: Credential, config: dict[str, Any]) -> bytes:
    port = int(config["port"])
    entries = (
        ("credentials.json", dump_credentials_file(cred), 0o600),
        ("lingma-proxy.json", orjson.dumps(config, option=orjson.OPT_INDENT_2) + b"\n", 0o644),
        ("docker-compose.yml", compose_yaml(port).encode(), 0o644),
        ("Dockerfile", dockerfile(port).encode(), 0o644),
        ("README.txt", readme(port, str(config["api_key"]), cred).encode(), 0o644),
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_bundle(path: str | Path, cred: Credential, *, host: str = "", port: int = DEFAULT_PORT,
                 api_key: str | None = None, base_url: str = "", proxy_url: str = "", version: str = "2.11.2",
                 model: str = "", fallback: bool = True, fallback_models: Sequence[str] = (),
                 identity: str = "") -> tuple[Path, str]:
    """Write the bundle (``.zip`` appended when missing), mode 0600; returns (path, API key)."""
    p = Path(path).expanduser()
    if p.suffix.lower() != ".zip":
        p = p.with_name(p.name + ".zip")
    key = api_key or "lp-" + secrets.token_urlsafe(24)
    config = server_config(port=port or DEFAULT_PORT, api_key=key, base_url=base_url, proxy_url=proxy_url,
                           version=version, model=model, fallback=fallback, fallback_models=fallback_models,
                           identity=identity)
    if host not in _LOOPBACK:
        config["host"] = host
    _atomic_write(p, bundle_bytes(cred, config), 0o600, 0o755)
    return p, key
