"""Tool calls that local models write as text, turned into real tool calls.

Models served by OpenAI-compatible servers (LM Studio, Ollama, llama.cpp, vLLM, mlx-lm) often
emit their calls in the text when the server's chat template does not parse them: Hermes
``<tool_call>{json}</tool_call>``, Qwen3-Coder ``<function=name><parameter=k>v</parameter>``,
Mistral ``[TOOL_CALLS]``, fenced JSON ``{"name", "arguments"}``, a bare JSON call on its own
line. Left alone, the client shows them as prose and the tool never runs (the most common
complaint about local models behind a proxy).

This applies only when the request offered tools (and tool_choice is not ``none``) and the
upstream produced no native tool call: the first native call switches parsing off for the
rest of the stream. Parsing, checks and streaming discipline are those of tool emulation
(``action_blocks``, ``tool_stream``).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ir
from .action_blocks import limit_for
from .tool_stream import CallStream, response_with_calls


def _wanted(req: ir.Request) -> bool:
    return bool(req.tools) and not (req.tool_choice is not None and req.tool_choice.type == "none")


class TextToolCallStream(CallStream):
    """Converter for an OpenAI-compatible backend's stream (same feed/finish shape)."""

    __slots__ = ()

    def __init__(
        self,
        req: ir.Request,
        *,
        max_calls: int | None = None,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(
            req.tools,
            enabled=_wanted(req),
            max_calls=limit_for(req) if max_calls is None else max_calls,
            new_id=new_id,
        )

    def _on_foreign_block(self, ev: ir.BlockStart) -> None:
        if ev.kind == "tool_call":
            self._enabled = False  # the upstream does native calls: trust them alone


def extract_text_tool_calls(
    resp: ir.Response, req: ir.Request, *, new_id: Callable[[], str] | None = None
) -> ir.Response:
    """The non-streaming form: ``resp`` with tool calls written in its text made real."""
    if not _wanted(req) or resp.tool_calls():
        return resp
    return response_with_calls(resp, req.tools, max_calls=limit_for(req), new_id=new_id)
