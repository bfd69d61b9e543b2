"""What an OpenAI-compatible server is and what it knows, learned cheaply: the API root from
what users type, whether anything answers (``--backend auto``), and context lengths from the
server's own APIs (LM Studio, llama.cpp, Ollama, vLLM)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson


def normalize_base_url(url: str) -> str:
    """The API root, ending in ``/v1`` when the user gave no path.

    ``http://localhost:1234`` and ``http://localhost:1234/v1/`` both give
    ``http://localhost:1234/v1``; any other path (``/api/v1``, ``/openai/v1``, ``/v1beta``) is
    kept as given; a pasted ``.../chat/completions`` is trimmed.
    """
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    for suffix in ("/chat/completions", "/models"):
        path = path.removesuffix(suffix)
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def api_root(base_url: str) -> str:
    """Server root (no ``/v1``), where LM Studio, llama.cpp and Ollama keep their own APIs."""
    return base_url.removesuffix("/v1")


async def probe(base_url: str, timeout: float = 0.5) -> bool:
    """True when an OpenAI-compatible server answers GET <base>/models (``--backend auto``)."""
    url = normalize_base_url(base_url) + "/models"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s,
            s.get(url, allow_redirects=False) as resp,
        ):
            if resp.status != 200:
                return False
            body = orjson.loads(await resp.read())
            return isinstance(body, (dict, list))
    except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError, OSError):
        return False


def pos_int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def entry_context(e: dict[str, Any]) -> int | None:
    for key in ("max_model_len", "loaded_context_length", "context_length", "context_window"):
        if n := pos_int(e.get(key)):
            return n
    return None


def lmstudio_context(body: Any, model: str) -> int | None:
    data = body.get("data") if isinstance(body, dict) else None
    for e in data if isinstance(data, list) else ():
        if isinstance(e, dict) and e.get("id") == model:
            # Only a loaded model's length is real: an unloaded one is JIT-loaded with the
            # server's default length, often far below max_context_length.
            if e.get("state") == "loaded":
                return pos_int(e.get("loaded_context_length")) or pos_int(e.get("max_context_length"))
            return None
    return None


def lmstudio_loaded(body: Any) -> list[str]:
    """Ids of the models LM Studio has loaded right now (chat models first, embeddings last)."""
    data = body.get("data") if isinstance(body, dict) else None
    loaded = [e for e in (data if isinstance(data, list) else ())
              if isinstance(e, dict) and e.get("state") == "loaded" and isinstance(e.get("id"), str)]
    loaded.sort(key=lambda e: e.get("type") == "embeddings")
    return [e["id"] for e in loaded]


def llamacpp_context(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    settings = body.get("default_generation_settings")
    if isinstance(settings, dict) and (n := pos_int(settings.get("n_ctx"))):
        return n
    return pos_int(body.get("n_ctx"))


def ollama_context(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    params = body.get("parameters")
    if isinstance(params, str):  # an explicit num_ctx is what the runner really uses
        m = re.search(r"^\s*num_ctx\s+(\d+)", params, re.MULTILINE)
        if m:
            return int(m.group(1))
    info = body.get("model_info")
    if isinstance(info, dict):
        for k, v in info.items():
            if k.endswith(".context_length") and (n := pos_int(v)):
                return n
    return None
