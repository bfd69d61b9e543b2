"""Refuse what the official APIs refuse, before anything is forwarded: one pass over the IR.

The relay runs ``check`` after ``parse_request`` (and after a Responses ``previous_response_id``
expansion) for every dialect. It raises ``errors.InvalidRequest`` naming the wire field: the
parsers record, in ``Request.origins``, the client's path of every image, tool call and tool
result (keyed by the part object's identity, so the map survives the expansion, whose stored
parts simply have no path here and are named by their IR position instead).

What is refused, with the official APIs' own wording as the reference:

* images whose source is not http(s) or a base64 ``data:`` URL (``file:``, ``ftp:``,
  ``javascript:``, bare paths ...); a local path passes only when the operator allowed local
  images, and the relay then reads the file itself (``relay/local_images.py``) so no path string
  ever reaches an HTTP upstream;
* base64 that does not decode, a media type other than PNG, JPEG, GIF or WebP, and a declared
  media type the bytes contradict (magic numbers sniffed);
* a tool result for an id no earlier tool call has; a tool call (outside the last message, which
  may be a prefill) that no later result answers;
* two tools with one name, and a ``tool_choice`` naming a tool that is not in ``tools``;
* a request with nothing to answer (no message and no system text).

One linear pass, no re-serialization: Claude Code sends 200 KB - 1.7 MB with hundreds of messages.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode

from .. import errors, ir

SUPPORTED_MEDIA = ("image/jpeg", "image/png", "image/gif", "image/webp")
_ALIASES = {"image/jpg": "image/jpeg"}  # common, and what the bytes say is jpeg anyway
_PRETTY = "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def sniff(raw: bytes) -> str | None:
    """The image type the magic number names (PNG, JPEG, GIF, WebP), else None."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if raw.startswith(b"RIFF") and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_base64(data: str) -> bytes | None:
    """Strict base64 (wrapped lines tolerated); None when it is not base64."""
    try:
        return b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        pass
    if not any(c.isspace() for c in data[:200]) and not any(c.isspace() for c in data[-200:]):
        return None
    try:
        return b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def is_local_path(url: str) -> bool:
    """A ``file:`` URL or an absolute filesystem path (POSIX, ``~``, or ``C:\\``)."""
    return (url[:5].lower() == "file:" or url.startswith(("/", "~"))
            or _WINDOWS_PATH.match(url) is not None)


def check_image_bytes(raw: bytes, declared: str, param: str) -> str:
    """The media type of decoded image bytes; refuses an unknown type or a contradiction."""
    found = sniff(raw)
    declared = _ALIASES.get(declared.lower(), declared.lower()) if declared else ""
    if declared and declared not in SUPPORTED_MEDIA:
        raise errors.InvalidRequest(
            f"{param}: image media type {declared!r} is not supported: expected {_PRETTY}", param=param)
    if found is None:
        raise errors.InvalidRequest(
            f"{param}: could not process image: the data is not a PNG, JPEG, GIF or WebP image",
            param=param)
    if declared and declared != found:
        raise errors.InvalidRequest(
            f"{param}: The image was specified using the {declared} media type, but the image "
            f"appears to be a {found} image", param=param)
    return found


def check_image(part: ir.ImagePart, param: str, *, allow_local: bool = False) -> bool:
    """Refuse an image no official API would take (see the module docstring); True when it is
    an allowed local path the relay must read."""
    if part.data is not None:
        if not part.data:
            raise errors.InvalidRequest(f"{param}: image data is empty", param=param)
        raw = decode_base64(part.data)
        if raw is None:
            raise errors.InvalidRequest(f"{param}: image data is not valid base64", param=param)
        check_image_bytes(raw, part.media_type, param)
        return False
    url = (part.url or "").strip()
    head = url[:8].lower()
    if head.startswith(("http://", "https://")):
        return False
    if head.startswith("data:"):
        media_type, sep, rest = url[5:].partition(",")
        kind, _, enc = media_type.partition(";")
        if not sep or "base64" not in enc.lower().split(";"):
            raise errors.InvalidRequest(
                f"{param}: expected a base64-encoded data URL with an image media type "
                "(data:image/png;base64,...)", param=param)
        raw = decode_base64(rest)
        if raw is None or not rest:
            raise errors.InvalidRequest(f"{param}: image data is not valid base64", param=param)
        check_image_bytes(raw, kind, param)
        return False
    if allow_local and is_local_path(url):
        return True  # the relay reads it (size-capped, sniffed) and sends the bytes instead
    match = _SCHEME.match(url)
    what = f"scheme {match.group(1)!r}" if match and not _WINDOWS_PATH.match(url) else "a local path or relative URL"
    raise errors.InvalidRequest(
        f"{param}: image URLs must be http(s) URLs or base64 data URLs, got {what}"
        + ("" if allow_local else " (local image files are off: see allow_local_images)"),
        param=param)


_Open = tuple[int, int, ir.ToolCallPart]  # message index, part index, the call


class _Pass:
    """The state of one walk over a request's messages."""

    __slots__ = ("req", "origins", "allow_local", "local", "calls", "open")

    def __init__(self, req: ir.Request, allow_local: bool) -> None:
        self.req = req
        self.origins = req.origins
        self.allow_local = allow_local
        self.local = False  # an allowed local image path was seen
        self.calls: set[str] = set()  # every tool call id seen so far
        self.open: dict[str, _Open] = {}  # the calls the next turn must answer

    def where(self, part: object, fallback: str) -> str:
        return self.origins.get(id(part)) or fallback

    def run(self) -> None:
        messages = self.req.messages
        last = len(messages) - 1
        for i, msg in enumerate(messages):
            # The turn after a tool call must answer every call (mid-conversation system turns
            # aside); the results pop their calls as the walk reaches them.
            pending = None
            if self.open and msg.role != "system":
                pending, self.open = self.open, {}
            for j, part in enumerate(msg.content):
                if type(part) is ir.TextPart or type(part) is ir.ThinkingPart:
                    continue  # most parts: skipped at the cost of two identity checks
                if isinstance(part, ir.ImagePart):
                    self.local |= check_image(part, self.where(part, f"messages[{i}].content[{j}]"),
                                              allow_local=self.allow_local)
                elif isinstance(part, ir.ToolCallPart):
                    self.calls.add(part.id)
                    if i != last:
                        self.open[part.id] = (i, j, part)
                elif isinstance(part, ir.ToolResultPart):
                    self._result(part, i, j, pending)
            if pending:
                self._unanswered(pending)
        if self.open:
            self._unanswered(self.open)

    def _result(self, part: ir.ToolResultPart, i: int, j: int, pending: dict[str, _Open] | None) -> None:
        if pending:
            pending.pop(part.tool_call_id, None)
        if part.tool_call_id not in self.calls:
            path = self.where(part, f"messages[{i}].content[{j}]")
            raise errors.InvalidRequest(
                f"{path}: unexpected tool result id found: {part.tool_call_id}. No earlier tool call has "
                "this id: each tool result must answer a tool call of a previous assistant turn",
                param=path)
        for k, inner in enumerate(part.content):
            if type(inner) is ir.ImagePart:  # paths are built only for the rare image
                fallback = f"{self.where(part, f'messages[{i}].content[{j}]')}.content[{k}]"
                self.local |= check_image(inner, self.where(inner, fallback), allow_local=self.allow_local)

    def _unanswered(self, unanswered: dict[str, _Open]) -> None:
        missing = list(unanswered.values())
        i, j, first = missing[0]
        path = self.where(first, f"messages[{i}].content[{j}]")
        ids = ", ".join(p.id for _, _, p in missing)
        raise errors.InvalidRequest(
            f"{path}: tool call ids were found without tool results immediately after: {ids}. "
            "Each tool call must be answered by a tool result in the next message",
            param=path)


def check(req: ir.Request, *, allow_local_images: bool = False) -> bool:
    """Raise ``InvalidRequest`` naming the field when the request is one the APIs refuse.
    True when it names local images the relay must read (only with ``allow_local_images``)."""
    if not req.messages and not req.system:
        # The parsers name the empty field (messages, input); this catches every other way of
        # sending nothing to answer (no input at all, only empty system text).
        raise errors.InvalidRequest("at least one message is required: the request has no message and no system text")
    names: set[str] = set()
    for tool in req.tools:
        if tool.name in names:
            raise errors.InvalidRequest(f"tools: Tool names must be unique: {tool.name!r} appears more than once",
                                        param="tools")
        names.add(tool.name)
    choice = req.tool_choice
    if choice is not None and choice.type == "tool" and choice.name not in names:
        raise errors.InvalidRequest(
            f"tool_choice: tool {choice.name!r} is not one of the tools in 'tools'"
            if names else "tool_choice: names a tool but the request has no tools",
            param="tool_choice")
    walk = _Pass(req, allow_local_images)
    walk.run()
    return walk.local
