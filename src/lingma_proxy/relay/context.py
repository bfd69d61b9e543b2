"""The relay's context-window policy: find the model's limit, fit the request, report.

The limit comes from, in order: the backend's ``options.context_window`` in the config, the
global ``context_window`` setting, the backend's own ``context_window(model)`` discovery (LM
Studio, Ollama, llama.cpp, vLLM: cached by the backend), and the ``context_window`` of the
model in the backend's model list (the Lingma catalog). With no limit known the request goes
out untouched. A backend with ``capabilities.own_context_window`` (Anthropic) is skipped: the
upstream counts and reports itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import errors, ir
from ..backends.base import Backend, ContextWindows
from ..exchange import Exchange
from ..features.context_window import fit

log = logging.getLogger("lingma_proxy.relay")

DEFAULT_RESERVE = 4096  # answer room when the client sets no max_tokens
MAX_RESERVE_SHARE = 4  # never keep more than a quarter of the window for the answer


async def context_limit(backend: Backend, model: str, options: Any) -> int | None:
    """The context window of ``model`` on ``backend`` (see the module docstring), or None."""
    per_backend: Mapping[str, int] = getattr(options, "context_windows", None) or {}
    configured = per_backend.get(backend.name) or getattr(options, "context_window", 0)
    if configured:
        return int(configured)
    if isinstance(backend, ContextWindows):
        try:
            found = await backend.context_window(model)
        except errors.ProxyError:
            found = None
        if found:
            return int(found)
    try:
        models = await backend.list_models()
    except errors.ProxyError:
        return None
    for m in models:
        if m.context_window and (m.upstream_id == model or m.id == model):
            return m.context_window
    return None


def reserve_for(req: ir.Request, limit: int) -> int:
    """Room kept for the answer: ``max_tokens`` (4096 when unset), at most a quarter of the
    window, so an agent asking 32k-128k output tokens still gets a prompt budget."""
    return min(req.max_tokens or DEFAULT_RESERVE, limit // MAX_RESERVE_SHARE)


async def apply_context_policy(req: ir.Request, ureq: ir.Request, backend: Backend, options: Any,
                               exchange: Exchange | None = None) -> ir.Request:
    """The request to send upstream: ``ureq`` fitted into the model's context window.

    Logs (and records on ``exchange``) a warning at 75% and 90% of the window and when turns
    were dropped; raises ``errors.ContextLengthExceeded`` when the request cannot be sent.
    ``max_tokens`` is lowered when prompt plus answer would overrun the window (vLLM refuses
    such requests; LM Studio and Ollama would cut the answer short anyway).
    """
    if backend.capabilities.own_context_window:
        return ureq
    limit = await context_limit(backend, ureq.model, options)
    if not limit or limit <= 0:
        return ureq
    mode = getattr(options, "context_overflow", "error")
    result = fit(ureq, limit, reserve_for(ureq, limit), mode)
    message = result.warning()
    if message is not None:
        log.warning("%s (client model %s, backend %s, model %s)", message, req.model,
                    backend.name, ureq.model)
        if exchange is not None:
            exchange.warnings.append(message)
    out = result.request
    if out.max_tokens and result.estimated_tokens + out.max_tokens > limit:
        out = replace(out, max_tokens=max(1, limit - result.estimated_tokens))
    return out


def backend_context_windows(settings: Any) -> dict[str, int]:
    """``options.context_window`` of each configured backend that sets one."""
    out: dict[str, int] = {}
    for b in getattr(settings, "backends", ()):
        value = b.options.get("context_window")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[b.name] = value
    return out
