from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.ir_backend import ScriptedBackend
from server_harness import ServerThread, make_settings


@pytest.fixture
def scripted() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def server(scripted: ScriptedBackend) -> Iterator[ServerThread]:
    with ServerThread(make_settings(), {"scripted": scripted}) as s:
        yield s
