"""Every registered backend type: entry points of group ``lingma_proxy.backends``.

Read once per process through ``importlib.metadata``, the way a third party's package is found
(an installed distribution's ``entry_points.txt`` anywhere on ``sys.path``). The built-ins come
first, in their own order (openai, anthropic, ipc, remote: the first configured backend is the
default one); a plugin's follow by entry point name. When lingma-proxy's own metadata is
missing (a source tree never installed) the built-ins' entry points are used as declared. A
type name registered twice keeps the first; a plugin that fails to load is logged and left out,
never stopping the proxy.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import EntryPoint, entry_points

from .registration import BackendType

GROUP = "lingma_proxy.backends"

log = logging.getLogger("lingma_proxy.backends")


def _loaded(ep: EntryPoint) -> list[BackendType]:
    try:
        value = ep.load()
    except Exception:  # noqa: BLE001 - a broken plugin must not stop the proxy
        log.exception("backend plugin %s (%s) failed to load", ep.name, ep.value)
        return []
    items = value if isinstance(value, (tuple, list)) else (value,)
    good = [t for t in items if isinstance(t, BackendType)]
    if len(good) != len(items):
        log.warning("backend plugin %s (%s) registers something that is not a BackendType", ep.name, ep.value)
    return good


# lingma-proxy's own registrations, as its pyproject.toml declares them: used as they are when
# the distribution's metadata is missing (a source tree never installed).
BUILTIN = tuple(EntryPoint(name, f"lingma_proxy.backends.builtin:{name.upper()}", GROUP)
                for name in ("openai", "anthropic", "ipc", "remote"))


@functools.cache
def backend_types() -> tuple[BackendType, ...]:
    """The registered types: built-ins first (see the module docstring)."""
    found = list(entry_points(group=GROUP))
    own = [ep for ep in found if ep.value.startswith("lingma_proxy.")] or list(BUILTIN)
    rank = {ep.value: i for i, ep in enumerate(BUILTIN)}
    own.sort(key=lambda ep: (rank.get(ep.value, len(rank)), ep.name))
    others = sorted((ep for ep in found if not ep.value.startswith("lingma_proxy.")), key=lambda ep: ep.name)
    out: dict[str, BackendType] = {}
    for ep in own + others:
        for t in _loaded(ep):
            if t.name in out or t.name == "auto":
                log.warning("backend type %r is registered twice (or is reserved): the first one is kept", t.name)
                continue
            out[t.name] = t
    return tuple(out.values())


def by_name(name: str) -> BackendType | None:
    return next((t for t in backend_types() if t.name == name), None)
