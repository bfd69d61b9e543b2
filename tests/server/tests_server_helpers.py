from __future__ import annotations

from typing import Any


def make_settings_fast_ping(**kw: Any) -> Any:
    from lingma_proxy.config import Settings

    return Settings(backend="scripted", ping_interval=0.1, **kw)
