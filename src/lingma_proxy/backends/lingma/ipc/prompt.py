"""What the runtime is asked, built from the IR, sans I/O: the prompt text and its images.

The layouts are the reference's (``buildLingmaPrompt``):

* one user message and no system text: the raw text;
* otherwise ``System instructions:`` / system / ``Conversation transcript:`` / ``User: ...`` /
  ``Assistant: ...`` / a closing line asking for a reply to the latest user message;
* with emulated tools (the relay put the tool contract, which starts with ``# Tools``, at the
  end of the system text): the turns first, then the system text with the contract, then
  ``Assistant:``, so the contract is the last thing the model reads;
* reuse mode: the last user text only (the runtime's session holds the rest).

A reasoning hint is prepended to the system text when the client asked for reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

from .... import errors, ir
from ....features.tool_contract import history_has_tools, render_history

CLOSING = ("Reply as the assistant to the latest user message only. Follow the system instructions "
           "and prior transcript naturally.")
IMAGE_ONLY = "请描述这张图片的主要内容。"  # "describe the main content of this image" (the reference's)
CONTRACT_MARK = "# Tools"
_PRIVATE = ("Do not reveal private chain-of-thought; only provide the final answer and any concise "
            "user-facing rationale.")
_HINTS = {  # "high" is the reference's wording, verbatim (captured); the others follow it
    "low": f"Reasoning mode is enabled. Reason briefly before answering. {_PRIVATE}",
    "medium": f"Reasoning mode is enabled. Reason step by step before answering. {_PRIVATE}",
    "high": f"Reasoning mode is enabled. Take extra time to reason carefully before answering. {_PRIVATE}",
}
_ROLE = {"user": "User", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    images: tuple[ir.ImagePart, ...] = ()


def wants_reasoning(req: ir.Request) -> bool:
    return req.reasoning is not None and req.reasoning.enabled


def effort(req: ir.Request) -> str:
    r = req.reasoning
    if r is None:
        return "medium"
    if r.effort in ("minimal", "low"):
        return "low"
    if r.effort in ("high", "max"):
        return "high"
    if r.effort is None and r.budget_tokens is not None:
        return "high" if r.budget_tokens >= 4096 else "low" if r.budget_tokens < 1024 else "medium"
    return "medium"


def reasoning_hint(req: ir.Request) -> str:
    return _HINTS[effort(req)] if wants_reasoning(req) else ""


def latest_images(req: ir.Request) -> tuple[ir.ImagePart, ...]:
    """The images of the most recent user message that has any (an earlier image stays in play
    for a follow-up such as "and the colour?"), the reference's rule."""
    for m in reversed(req.messages):
        if m.role != "user":
            continue
        imgs = tuple(p for p in m.content if isinstance(p, ir.ImagePart) and (p.data or p.url))
        if imgs:
            return imgs
    return ()


def _turns(req: ir.Request) -> list[tuple[str, str]]:
    messages = render_history(req.messages) if history_has_tools(req) else req.messages
    out: list[tuple[str, str]] = []
    for m in messages:
        text = m.text().strip()
        if text:
            out.append((m.role, text))
    return out


def build_prompt(req: ir.Request, *, reuse: bool = False) -> Prompt:
    """The prompt for ``req``; ``InvalidRequest`` when it has neither user text nor an image."""
    images = latest_images(req)
    turns = _turns(req)
    last_user = next((t for r, t in reversed(turns) if r == "user"), "")
    if not last_user and not images:
        raise errors.InvalidRequest("no user message found in request: send at least one user message "
                                    "with text or an image", param="messages")
    if not last_user:
        last_user = IMAGE_ONLY
        turns.append(("user", IMAGE_ONLY))
    if reuse:
        return Prompt(last_user, images)
    system_parts = [p.text.strip() for p in req.system if p.text.strip()]
    tool_mode = bool(system_parts) and system_parts[-1].startswith(CONTRACT_MARK)
    hint = reasoning_hint(req)
    if hint:
        system_parts.insert(0, hint)
    system = "\n\n".join(system_parts)
    if not system and len(turns) == 1:
        return Prompt(turns[0][1], images)
    lines = [f"{_ROLE[r]}: {t}" for r, t in turns]
    if tool_mode:
        return Prompt("\n\n".join([*lines, system, "Assistant:"]), images)
    head = ["System instructions:", system] if system else []
    return Prompt("\n\n".join([*head, "Conversation transcript:", *lines, CLOSING]), images)
