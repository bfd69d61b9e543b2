"""Images for a ``session/prompt``: temp files the runtime can open, removed after the turn.

Each inline image is written to ``<tmp>/lingma-img-<random>.<ext>`` and referenced as
``qodercn:///agent/file?path=<escaped path>`` (QoderCN) or ``lingma:///agent/file?path=...``,
with the base64 ``data`` inline as well (QoderCN reads the data, Lingma the file). An image
given by URL is sent with that URL as its URI. The reference never deleted its temp files;
``cleanup`` does, after every turn.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from typing import Any
from urllib.parse import quote_plus

from .... import errors, ir

_EXT = {"image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/bmp": "bmp"}


def file_uri(path: str, kind: str) -> str:
    scheme = "qodercn" if kind == "qodercn" else "lingma"
    return f"{scheme}:///agent/file?path={quote_plus(os.path.abspath(path), safe='')}"


def write_images(images: tuple[ir.ImagePart, ...], kind: str,
                 tmpdir: str | None = None) -> tuple[list[dict[str, Any]], list[str], str]:
    """(prompt items, temp files written, first image URL). Files are 0644, as the runtime
    (another process) must read them."""
    items: list[dict[str, Any]] = []
    paths: list[str] = []
    first_url = ""
    try:
        for i, img in enumerate(images):
            mime = img.media_type or "image/jpeg"
            if img.data:
                try:
                    raw = base64.b64decode(img.data, validate=False)
                except (binascii.Error, ValueError):
                    raise errors.InvalidRequest(f"image {i + 1} of the last user message is not valid base64",
                                                param="messages") from None
                fd, path = tempfile.mkstemp(prefix="lingma-img-", suffix="." + _EXT.get(mime, "jpg"), dir=tmpdir)
                paths.append(path)
                with os.fdopen(fd, "wb") as f:
                    f.write(raw)
                os.chmod(path, 0o644)
                items.append({"type": "image", "mimeType": mime, "data": img.data, "uri": file_uri(path, kind)})
            elif img.url:
                first_url = first_url or img.url
                items.append({"type": "image", "mimeType": mime, "data": "", "uri": img.url})
    except BaseException:
        cleanup(paths)
        raise
    return items, paths, first_url


def cleanup(paths: list[str]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            os.unlink(p)
