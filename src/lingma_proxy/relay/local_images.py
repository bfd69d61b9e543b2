"""Local image files, read by the proxy itself when ``allow_local_images`` is on.

A client may name an image by a path (``/home/me/shot.png``, ``file:///...``, ``C:\\...``).
No HTTP upstream can open such a path, and forwarding it would hand a local path to a remote
service, so the relay reads the file here and replaces the image by its bytes (a base64 data
image in the IR): only regular files, at most ``MAX_BYTES``, and only PNG, JPEG, GIF or WebP as
their magic numbers say (features/validate.py). The Lingma IPC backend then writes the bytes to
its own temp file as for any inline image.
"""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from dataclasses import replace
from urllib.parse import unquote, urlsplit

from .. import errors, ir
from ..features import validate

MAX_BYTES = 20 * 1024 * 1024  # OpenAI's per-image limit; Anthropic's is lower and it says so itself


def _path(url: str) -> str:
    if url[:5].lower() == "file:":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file URLs must name a local file (file:///path)")
        path = unquote(parts.path)
        if len(path) > 2 and path[0] == "/" and path[2] == ":":  # file:///C:/x -> C:/x
            path = path[1:]
        return path
    return os.path.expanduser(url)


def read_image(url: str, param: str) -> ir.ImagePart:
    """The file a local image URL names, as an inline image; ``InvalidRequest`` otherwise."""
    try:
        path = _path(url)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block us
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise errors.InvalidRequest(f"{param}: cannot read local image: {reason}", param=param) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise errors.InvalidRequest(f"{param}: local image is not a regular file", param=param)
        if info.st_size > MAX_BYTES:
            raise errors.InvalidRequest(
                f"{param}: local image is {info.st_size} bytes, more than the {MAX_BYTES} allowed", param=param)
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise errors.InvalidRequest(f"{param}: local image is larger than the {MAX_BYTES} bytes allowed", param=param)
    media_type = validate.check_image_bytes(raw, "", param)
    return ir.ImagePart(media_type=media_type, data=base64.b64encode(raw).decode("ascii"))


def _inline(req: ir.Request) -> ir.Request:
    origins = req.origins

    def load(part: ir.ImagePart, fallback: str) -> ir.ImagePart:
        if part.data is not None or not validate.is_local_path(part.url or ""):
            return part
        return read_image((part.url or "").strip(), origins.get(id(part)) or fallback)

    messages: list[ir.Message] = []
    for i, msg in enumerate(req.messages):
        content: list[ir.Part] = []
        for j, p in enumerate(msg.content):
            if isinstance(p, ir.ImagePart):
                p = load(p, f"messages[{i}].content[{j}]")
            elif isinstance(p, ir.ToolResultPart) and any(isinstance(c, ir.ImagePart) for c in p.content):
                inner = tuple(load(c, f"messages[{i}].content[{j}].content[{k}]")
                              if isinstance(c, ir.ImagePart) else c for k, c in enumerate(p.content))
                p = replace(p, content=inner)
            content.append(p)
        messages.append(replace(msg, content=tuple(content)))
    return replace(req, messages=tuple(messages))


async def inline_local_images(req: ir.Request) -> ir.Request:
    """The request with every local image path replaced by the file's bytes (off the loop)."""
    return await asyncio.to_thread(_inline, req)
