"""COSY request signing and the headers of the Lingma remote API, sans I/O.

The bearer is ``COSY.<payload_b64>.<md5hex>``: the payload is the compact, key-sorted JSON
``{"cosyVersion", "ideVersion": "", "info": <encrypt_user_info>, "requestId": <uuid4>,
"version": "v1"}`` (what Go's ``json.Marshal`` of a map gives), and the MD5 runs over
``payload_b64 \\n cosy_key \\n date \\n raw body \\n path`` where the path has no query and no
leading ``/algo``. There is no server secret: possession of the four credential values is the
whole authentication, so the only care needed here is byte-exactness.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import sys
import uuid
from dataclasses import dataclass

import orjson

DEFAULT_VERSION = "2.11.2"
CLIENT_IP = "198.18.0.1"  # the reference's constant placeholder
USER_AGENT = "lingma-proxy/remote"
MODEL_LIST_PATH = "/algo/api/v2/model/list"
CHAT_PATH = "/algo/api/v2/service/pro/sse/agent_chat_generation"
CHAT_QUERY = "FetchKeys=llm_model_result&AgentId=agent_common"
IDENTITIES = ("main", "cli")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the proxy says it is: the reference main line (``main``, a JetBrains plugin) or the
    QoderCN CLI (``cli``, which the reference's later branch found necessary for reasoning
    streams and billed usage)."""

    name: str
    client_type: str
    machine_type: str
    extra: tuple[tuple[str, str], ...] = ()


MAIN = Identity("main", "2", "")
CLI = Identity(
    "cli", "5", "5",
    (("Cosy-Business-Product", "cli"), ("Cosy-Business-Type", "agent"), ("Cosy-Scene", "assistant")),
)  # fmt: skip


def identity(name: str) -> Identity:
    """``main`` (default, also for ""), or ``cli``; ValueError for anything else."""
    key = (name or "main").strip().lower()
    if key in ("main", "jb_plugin", "plugin", "default"):
        return MAIN
    if key in ("cli", "qoder_cli", "qodercli", "qoderclicn"):
        return CLI
    raise ValueError(f"remote_identity must be one of {', '.join(IDENTITIES)}, got {name!r}")


def signed_path(path: str) -> str:
    """The path the signature covers: no query, no leading ``/algo``."""
    path = path.split("?", 1)[0]
    return path[5:] if path.startswith("/algo/") or path == "/algo" else path


def payload_b64(info: str, request_id: str, version: str = DEFAULT_VERSION) -> str:
    doc = {"cosyVersion": version, "ideVersion": "", "info": info, "requestId": request_id, "version": "v1"}
    return base64.b64encode(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).decode("ascii")


def signature(payload: str, cosy_key: str, date: str, body: bytes, path: str) -> str:
    """Lowercase hex MD5 of the preimage (``path`` is signed as given: pass ``signed_path``)."""
    pre = b"\n".join((payload.encode(), cosy_key.encode(), date.encode(), body, path.encode()))
    return hashlib.md5(pre, usedforsecurity=False).hexdigest()


def authorization(
    *, info: str, cosy_key: str, date: str, body: bytes, path: str, request_id: str,
    version: str = DEFAULT_VERSION,
) -> str:  # fmt: skip
    """The ``Authorization`` header value for one request."""
    payload = payload_b64(info, request_id, version)
    return f"Bearer COSY.{payload}.{signature(payload, cosy_key, date, body, signed_path(path))}"


def machine_os(machine: str | None = None, system: str | None = None) -> str:
    """``<arch>_<os>`` as Go names them (``x86_64_linux``, ``arm64_darwin`` ...)."""
    m = (machine if machine is not None else platform.machine()).lower()
    s = (system if system is not None else sys.platform).lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "arm64": "arm64", "aarch64": "arm64",
            "i386": "386", "i686": "386", "x86": "386"}.get(m, m or "unknown")
    goos = {"win32": "windows", "cygwin": "windows", "darwin": "darwin"}.get(s, "linux" if s.startswith("linux") else s)
    return f"{arch}_{goos}"


def headers(
    *,
    cosy_key: str,
    encrypt_user_info: str,
    user_id: str,
    machine_id: str,
    date: str,
    body: bytes,
    path: str,
    version: str = DEFAULT_VERSION,
    ident: Identity = MAIN,
    request_id: str | None = None,
    os_name: str | None = None,
) -> dict[str, str]:
    """Every header the reference sends (the same set on GET and POST)."""
    rid = request_id or str(uuid.uuid4())
    h = {
        "Authorization": authorization(
            info=encrypt_user_info, cosy_key=cosy_key, date=date, body=body, path=path,
            request_id=rid, version=version,
        ),
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "Appcode": "cosy",
        "Cosy-Date": date,
        "Cosy-Key": cosy_key,
        "Cosy-Machineid": machine_id,
        "Cosy-User": user_id,
        "Cosy-Clientip": CLIENT_IP,
        "Cosy-Clienttype": ident.client_type,
        "Cosy-Machineos": os_name or machine_os(),
        "Cosy-Machinetoken": "",
        "Cosy-Machinetype": ident.machine_type,
        "Cosy-Version": version,
        "Login-Version": "v2",
        "User-Agent": USER_AGENT,
        # Go's transport asks for gzip (and transparently inflates); keep the same wire.
        "Accept-Encoding": "gzip",
    }
    h.update(ident.extra)
    return h
