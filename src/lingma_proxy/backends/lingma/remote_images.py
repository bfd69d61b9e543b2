"""The reference's image route, as an option: images go to the local Lingma runtime (IPC).

Used only when the remote backend was given an ``image_backend`` (``options.image_route =
"ipc"`` with an IPC backend configured). Without tools the whole request goes to IPC; with
tools, IPC first describes the latest images and the remote API then answers with that
description in place of the images (native tools and fallback still apply).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from ... import errors, ir
from ..base import Backend

# The remote API's own stream (images inline), handed in by the remote backend: this module
# never imports the backend that uses it.
RemoteStream = Callable[[ir.Request], AsyncIterator[ir.Event]]

FROM_IMAGE = "请只根据图片回答，忽略之前的对话历史："  # "answer only from the image, ignore earlier history:"
DESCRIBE = "请描述这张图片的主要内容。"  # "describe the main content of this image."
CONTEXT = "\n\n[图片上下文]\n"  # "[image context]"


def _images(m: ir.Message) -> list[ir.ImagePart]:
    return [p for p in m.content if isinstance(p, ir.ImagePart)]


def describe_request(req: ir.Request) -> ir.Request:
    """One user turn: the latest images with the question they came with (or a description ask)."""
    turn = next((m for m in reversed(req.messages) if m.role == "user" and _images(m)), None)
    images = _images(turn) if turn is not None else []
    text = turn.text().strip() if turn is not None else ""
    if not text:
        text = next((m.text().strip() for m in reversed(req.messages) if m.role == "user" and m.text().strip()), "")
    prompt = FROM_IMAGE + text if text else DESCRIBE
    return ir.Request(model=req.model, messages=(ir.Message("user", (ir.TextPart(prompt), *images)),),
                      stream=True, dialect=req.dialect)


def without_images(req: ir.Request, description: str) -> ir.Request:
    msgs = [replace(m, content=tuple(p for p in m.content if not isinstance(p, ir.ImagePart))) for m in req.messages]
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i].role == "user":
            parts = list(msgs[i].content)
            at = next((j for j in range(len(parts) - 1, -1, -1) if isinstance(parts[j], ir.TextPart)), None)
            last = parts[at] if at is not None else None
            if at is None or not isinstance(last, ir.TextPart):
                parts.append(ir.TextPart(CONTEXT.lstrip() + description))
            else:
                parts[at] = ir.TextPart(last.text + CONTEXT + description)
            msgs[i] = replace(msgs[i], content=tuple(parts))
            break
    else:
        msgs.append(ir.Message("user", (ir.TextPart(CONTEXT.lstrip() + description),)))
    return replace(req, messages=tuple(msgs))


async def route_images(ipc: Backend, stream_remote: RemoteStream, req: ir.Request) -> AsyncIterator[ir.Event]:
    if not req.tools or (req.tool_choice is not None and req.tool_choice.type == "none"):
        async for ev in ipc.stream(req):
            yield ev
        return
    try:
        answer = ir.accumulate([ev async for ev in ipc.stream(describe_request(req))])
    except errors.ProxyError as exc:
        raise errors.UpstreamError(f"image context extraction through Lingma IPC failed: {exc.message}") from None
    async for ev in stream_remote(without_images(req, answer.text())):
        yield ev
