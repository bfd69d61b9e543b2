"""Which host serves the Lingma remote API, sans I/O: hints from config and log text, ranking.

Precedence (the resolver in ``remote_hosts`` applies it): an explicit URL (flag > env >
config file) is used as given; otherwise the hosts hinted by Lingma/QoderCN config and log
files, ranked (dedicated ``*.rdc.aliyuncs.com`` tenants first, the official alternate last)
with the last host that worked in front, then the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://lingma.alibabacloud.com"
OFFICIAL = "lingma.alibabacloud.com"
ALTERNATE = "lingma-api.tongyi.aliyun.com"
_URL = re.compile(r"""h?ttps?://[^\s"'<>),\]}]+""", re.IGNORECASE)
_MARKERS = ("endpoint config:", "using service url:", "download asset from:", "endpoint:",
            "configgeneraldedicatedurl", "dedicatedurl", "lingma endpoint configured",
            "lingma endpoint from --api-endpoint flag")
_STATIC = ("marketplace.visualstudio.com", "downloads.marketplace.jetbrains.com")
_KEY_WORDS = ("base", "domain", "url")


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_static_host(host: str) -> bool:
    """OSS buckets and marketplaces serve files, never the API (a 404 NoSuchKey says so)."""
    return ".oss-" in host or "oss-rg-" in host or ".oss." in host or host in _STATIC


def reduce(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL (``ttps://`` repaired), or None."""
    url = url.strip().rstrip(".,;")
    if url.lower().startswith("ttps://"):
        url = "h" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")


def _known_api_host(host: str) -> bool:
    return host in (OFFICIAL, ALTERNATE) or host.endswith(".rdc.aliyuncs.com")


def score(url: str) -> int:
    host = host_of(url)
    if host.endswith(".rdc.aliyuncs.com"):
        return 100
    if host == OFFICIAL:
        return 50
    if host == ALTERNATE:
        return 10
    if "lingma" in host or "qoder" in host:
        return 90
    return 80


def from_json(doc: Any) -> list[str]:
    """Hosts under keys naming a base/domain/url whose value mentions lingma or qoder."""
    out: list[str] = []

    def walk(v: Any, depth: int) -> None:
        if depth > 32:
            return
        if isinstance(v, dict):
            for k, item in v.items():
                if isinstance(item, str) and isinstance(k, str) and any(w in k.lower() for w in _KEY_WORDS):
                    low = item.lower()
                    if low.startswith("http") and ("lingma" in low or "qoder" in low):
                        url = reduce(item)
                        if url and not is_static_host(host_of(url)):
                            out.append(url)
                else:
                    walk(item, depth + 1)
        elif isinstance(v, list):
            for item in v:
                walk(item, depth + 1)

    walk(doc, 0)
    return out


def from_text(text: str) -> str | None:
    """The API host a log or text file names: the last URL on a known API host, else the URL
    after the last endpoint marker; static-file hosts are never taken."""
    for m in reversed(_URL.findall(text)):
        url = reduce(m)
        if url is None:
            continue
        host = host_of(url)
        if _known_api_host(host) and not is_static_host(host):
            return url
    low = text.lower()
    best: tuple[int, str] | None = None
    for marker in _MARKERS:
        at = low.rfind(marker)
        if at < 0:
            continue
        m = _URL.search(text, at + len(marker))
        url = reduce(m.group(0)) if m else None
        if url and not is_static_host(host_of(url)) and (best is None or at > best[0]):
            best = (at, url)
    return best[1] if best else None


def rank(hints: Iterable[str], last_good: str | None = None, default: str = DEFAULT_BASE_URL) -> list[str]:
    """De-duplicated candidates: the last good host, then hints by score (stable), then the
    default."""
    uniq = list(dict.fromkeys(h.rstrip("/") for h in hints if h))
    ordered = sorted(uniq, key=score, reverse=True)
    out = ([last_good.rstrip("/")] if last_good else []) + ordered + [default]
    return list(dict.fromkeys(out))
