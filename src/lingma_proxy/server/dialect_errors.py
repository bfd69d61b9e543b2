"""Which dialect's error shape a path answers in, from the registry: the dialect one of whose
routes matches the path (any method), else one whose error prefixes hold it, else the default."""

from __future__ import annotations

import re
from functools import cache

from starlette.routing import compile_path

from ..dialects.base import Dialect, Route
from ..dialects.registry import all_dialects, default


@cache
def route_pattern(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


def matches(route: Route, path: str) -> bool:
    return route_pattern(route.path).match(path) is not None


def dialect_for_path(path: str) -> Dialect:
    dialects = all_dialects()
    for d in dialects:
        if any(matches(r, path) and not r.marked_by for r in d.routes):
            return d
    bare = path.rstrip("/")
    for d in dialects:
        if any(bare.startswith(p.rstrip("/")) for p in d.options.error_prefixes):
            return d
    return default()
