"""Backends built from settings, and ``--backend auto`` detection.

Each backend type's factory comes from its registration (backends/registration.py), found
through the ``lingma_proxy.backends`` entry points: the built-ins (backends/builtin.py) the
same way as a plugin's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .base import Backend
from .types import by_name

log = logging.getLogger("lingma_proxy.backends")

# Local servers probed by `--backend auto`, in order (LM Studio first: it is what most users of
# the reference product run).
AUTO_CANDIDATES = (
    ("lmstudio", "http://127.0.0.1:1234/v1"),
    ("ollama", "http://127.0.0.1:11434/v1"),
)


@dataclass
class Built:
    backends: dict[str, Backend]
    default: str | None
    unavailable_reason: str = ""


def build(settings: Any) -> Built:
    """Backends from ``settings.backends``; the default is ``settings.backend`` when it names
    one, else the first configured."""
    backends: dict[str, Backend] = {}
    problems: list[str] = []
    for cfg in settings.backends:
        btype = by_name(cfg.type)
        if btype is None:
            problems.append(f"backend {cfg.name!r}: type {cfg.type!r} is not available yet")
            continue
        backends[cfg.name] = btype.factory(cfg, settings)
    default = settings.backend if settings.backend in backends else next(iter(backends), None)
    reason = "; ".join(problems)
    return Built(backends, default, reason)


async def detect_auto(settings: Any) -> Built:
    """``--backend auto`` with nothing configured: a running Lingma / QoderCN runtime (IPC), else
    a Lingma login on this machine (the remote backend), else the first local server that answers."""
    from .lingma.ipc.factory import detect as detect_ipc
    from .lingma.remote_factory import detect as detect_remote
    from .openai_compat import OpenAICompatBackend, probe

    try:
        ipc = await detect_ipc(settings)  # a running Lingma / QoderCN runtime comes first
    except Exception:  # detection must never stop the server from starting
        log.exception("Lingma IPC detection failed")
        ipc = None
    if ipc is not None:
        return Built({ipc.name: ipc}, ipc.name)
    remote = await detect_remote(settings)
    if remote is not None:
        log.info("auto-detected a Lingma login: using the remote backend")
        return Built({remote.name: remote}, remote.name)

    for name, url in AUTO_CANDIDATES:
        if await probe(url):
            log.info("auto-detected %s at %s", name, url)
            backend = OpenAICompatBackend(
                name,
                url,
                None,
                default_model=settings.model,
                connect_timeout=settings.connect_timeout,
                first_byte_timeout=settings.first_byte_timeout,
                total_timeout=settings.timeout,
            )
            return Built({name: backend}, name)
    return Built(
        {},
        None,
        "no backend found: nothing answered on LM Studio (127.0.0.1:1234) or Ollama "
        "(127.0.0.1:11434). Start one of them, or run `lingma-proxy serve --backend openai "
        "--openai-base-url http://HOST:PORT/v1`",
    )
