from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.anthropic_upstream import FakeAnthropicUpstream
from fakes.ir_backend import ScriptedBackend
from fakes.openai_upstream import FakeOpenAIUpstream
from server_harness import ServerThread, make_settings


@pytest.fixture
def scripted() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def server(scripted: ScriptedBackend) -> Iterator[ServerThread]:
    with ServerThread(make_settings(), {"scripted": scripted}) as s:
        yield s


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAIUpstream]:
    fake = FakeOpenAIUpstream().start_thread()
    yield fake
    fake.stop_thread()


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[FakeAnthropicUpstream]:
    fake = FakeAnthropicUpstream().start_thread()
    yield fake
    fake.stop_thread()
