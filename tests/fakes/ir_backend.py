"""An in-process backend that plays scripted IR events: the relay's and server's test double.

Each call to ``stream`` takes the next script (or repeats the last one played): a list of IR events,
ProxyError instances (raised at that point), ``("sleep", seconds)`` pauses, and the marker
``HANG`` (wait forever: tests of cancellation). Every request it received is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from lingma_proxy import errors, ir
from lingma_proxy.backends.base import BackendState, Capabilities

HANG = object()


class ScriptedBackend:
    kind = "scripted"

    def __init__(self, name: str = "scripted", scripts: list[list[Any]] | None = None,
                 models: list[str] | None = None, capabilities: Capabilities | None = None) -> None:
        self.name = name
        self.scripts = list(scripts or [])
        self.models = models if models is not None else ["test-model"]
        self.capabilities = capabilities or Capabilities()
        self.requests: list[ir.Request] = []
        self.last: list[Any] = text_script("ok")
        self.cancelled = 0
        self.closed = False

    def push(self, *script: Any) -> None:
        self.scripts.append(list(script))

    async def list_models(self) -> list[ir.ModelInfo]:
        return [ir.ModelInfo(id=m, backend=self.name, upstream_id=m, owned_by="test") for m in self.models]

    async def state(self) -> BackendState:
        return BackendState(self.name, self.kind, True, "scripted")

    async def aclose(self) -> None:
        self.closed = True

    async def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]:
        self.requests.append(request)
        if self.scripts:
            self.last = self.scripts.pop(0)
        script = self.last
        try:
            for step in script:
                if step is HANG:
                    await asyncio.Event().wait()
                elif isinstance(step, tuple) and step[0] == "sleep":
                    await asyncio.sleep(step[1])
                elif isinstance(step, errors.ProxyError):
                    raise step
                else:
                    yield step
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        except GeneratorExit:
            self.cancelled += 1
            raise


def text_script(text: str, *, input_tokens: int = 10, output_tokens: int = 3,
                stop: ir.StopReason = "end_turn") -> list[Any]:
    return [
        ir.MessageStart("up-1", "test-model", ir.Usage(input_tokens)),
        ir.BlockStart(0, "text"), ir.TextDelta(0, text), ir.BlockStop(0),
        ir.MessageDelta(stop, None, ir.Usage(input_tokens, output_tokens)), ir.MessageStop(),
    ]


def tool_script(*calls: tuple[str, str, str], text: str = "", input_tokens: int = 50) -> list[Any]:
    ev: list[Any] = [ir.MessageStart("up-2", "test-model", ir.Usage(input_tokens))]
    i = 0
    if text:
        ev += [ir.BlockStart(0, "text"), ir.TextDelta(0, text), ir.BlockStop(0)]
        i = 1
    for cid, name, args in calls:
        ev += [ir.BlockStart(i, "tool_call", id=cid, name=name), ir.ToolArgsDelta(i, args[: len(args) // 2]),
               ir.ToolArgsDelta(i, args[len(args) // 2:]), ir.BlockStop(i)]
        i += 1
    ev += [ir.MessageDelta("tool_use", None, ir.Usage(input_tokens, 20)), ir.MessageStop()]
    return ev


def thinking_script(thought: str, text: str, signature: str = "sig-1") -> list[Any]:
    return [
        ir.MessageStart("up-3", "test-model", ir.Usage(30)),
        ir.BlockStart(0, "thinking"), ir.ThinkingDelta(0, thought), ir.SignatureDelta(0, signature), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, text), ir.BlockStop(1),
        ir.MessageDelta("end_turn", None, ir.Usage(30, 12)), ir.MessageStop(),
    ]
