"""The missed-tool retry: when a model offered tools answers without using one but should have.

Three signs, in English and Chinese: a refusal ("I can't access your files", 我无法执行系统命令),
a hand-off to the user ("run the following command in your terminal", 请手动运行), and an
announcement at the end of the reply with no call after it ("Let me read the file:",
让我查看一下文件). An action block that failed to parse (unknown tool, missing parameter) is a
fourth. Forced tool_choice (any / a named tool) retries whenever no call came.

Unlike the reference, announcement phrases count only in the tail of the reply (where a model
that stopped short leaves them), and hand-off phrases only in their explicit forms, so an
explanation that mentions "you can run the tests with pytest" is not re-asked. The retry is
marked in the request it builds, so ``should_retry`` never fires twice for one turn.
"""

from __future__ import annotations

import re
from collections.abc import Sized
from dataclasses import replace

from .. import ir
from .tool_contract import effective_tools

RETRY_MARK = "[tool-call required]"
_TAIL = 240  # characters at the end of a reply where an announcement counts

_REFUSAL_EN = re.compile(
    r"\b(?:"
    r"i (?:do not|don't|dont) have (?:direct |any )?(?:access to )?(?:any )?(?:tools|tool access|"
    r"the ability to (?:run|execute|access|read|browse))"
    r"|tools? (?:are|is) (?:not available|unavailable|disabled)"
    r"|no tools (?:are )?available"
    r"|(?:cannot|can't|can not|am unable to|am not able to|unable to) (?:call|use|invoke|access) "
    r"(?:any |the )?(?:tools?|functions?)"
    r"|(?:cannot|can't|can not|am unable to|am not able to|unable to) (?:directly )?(?:execute|run) "
    r"(?:commands?|code|shell|scripts?|this|that|it|programs?)"
    r"|(?:cannot|can't|can not|am unable to|am not able to|unable to|don't have|do not have) "
    r"(?:direct )?access (?:to )?(?:your|the user's|the|a) (?:local )?(?:computer|machine|system|"
    r"file ?system|files?|terminal|environment|repository|codebase|internet|web)"
    r"|(?:cannot|can't|can not|am unable to|unable to) (?:read|open|see|view|browse|access) "
    r"(?:local |your |the )?(?:files?|directories|the (?:web|internet)|urls?|web ?pages?)"
    r"|as an ai(?: language model)?,? i (?:cannot|can't|don't|do not)"
    r"|native lingma tools"
    r")",
    re.I,
)
_REFUSAL_ZH = re.compile(
    r"没有可用的工具|无法调用|工具不可用|不能调用工具|我不具备|受限于当前环境|当前环境限制|"
    r"(?:无法|不能)直接(?:执行|访问|查询|查看|读取|运行|操作)|(?:无法|不能)执行(?:系统)?命令|"
    r"(?:无法|不能)访问(?:你的|您的)?(?:电脑|本机|本地|文件|计算机|终端)|没有权限访问|"
    r"切换到计划模式"
)
_HANDOFF_EN = re.compile(
    r"\b(?:please (?:run|execute|paste|share|provide the (?:output|contents?))"
    r"|(?:you can|you could|you may|you'll need to|you will need to|you should) (?:run|execute) "
    r"(?:the following|this|these) (?:command|script)"
    r"|run (?:the following|this|these) (?:commands?|script) (?:in|on|from) your"
    r"|in your (?:own )?(?:terminal|shell|command line)"
    r"|(?:manually|yourself) run|run (?:it|this|them) (?:manually|yourself)"
    r"|(?:paste|share) (?:the|its|their) (?:contents?|output|file)"
    r"|copy and paste"
    r"|switch(?:ing)? to (?:plan|planning|agent) mode)",
    re.I,
)
_HANDOFF_ZH = re.compile(
    r"手动运行|请你运行|请运行|请执行|你可以在终端|您可以在终端|你可以运行|您可以运行|粘贴给我|贴给我|"
    r"把(?:输出|结果|内容)(?:发|贴)"
)
_ANNOUNCE_EN = re.compile(
    r"\b(?:let me|let's|i'll|i will|i'm going to|i am going to|i need to|i should|i must|"
    r"first,? i'll|now i'll|next,? i'll)\s+(?:first\s+|now\s+|quickly\s+)?"
    r"(?:use|call|run|execute|read|open|view|check|look|inspect|examine|search|grep|find|list|"
    r"explore|fetch|browse|query|create|write|edit|modify|update|patch|apply|start|try|see|"
    r"investigate|review|analy[sz]e|verify|test|take a look)\b",
    re.I,
)
_ANNOUNCE_ZH = re.compile(
    r"(?:让我|我来|我将|我会|我先|我需要|我要|现在我将|接下来(?:我)?|下面(?:我)?)(?:先|再|来|去)?"
    r"(?:使用|调用|运行|执行|查看|读取|搜索|检查|编辑|修改|打开|创建|写入|列出|分析|尝试|看一下|看看|查询)"
)
_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？:：]*")
_OFFER = re.compile(r"\bif (?:you|needed|necessary|desired)\b|would you|want me|let me know|如果|需要的话|是否", re.I)
_FAILED_BLOCK = re.compile(r"```\s*(?:json\s*)?action\b|<tool_call>|\[TOOL_CALLS\]|<function=|\"tool\"\s*:")


def _count(produced: int | Sized) -> int:
    return produced if isinstance(produced, int) else len(produced)


def is_retry(req: ir.Request) -> bool:
    """True for a request ``retry_request`` built."""
    for m in reversed(req.messages):
        if m.role == "user":
            return any(isinstance(p, ir.TextPart) and p.text.startswith(RETRY_MARK) for p in m.content)
    return False


def looks_like_refusal(text: str) -> bool:
    return bool(_REFUSAL_EN.search(text) or _REFUSAL_ZH.search(text))


def looks_like_handoff(text: str) -> bool:
    return bool(_HANDOFF_EN.search(text) or _HANDOFF_ZH.search(text))


def looks_like_announcement(text: str) -> bool:
    """A sentence near the end that says the model is about to act (not an offer or question)."""
    tail = text.rstrip()[-_TAIL:]
    for sentence in _SENTENCE.findall(tail):
        if not (_ANNOUNCE_EN.search(sentence) or _ANNOUNCE_ZH.search(sentence)):
            continue
        if sentence.rstrip().endswith(("?", "？")) or _OFFER.search(sentence):
            continue
        return True
    return False


def should_retry(req: ir.Request, response_text: str, produced_calls: int | Sized) -> bool:
    """Whether to re-ask once: tools were offered, no call came, and the reply refused,
    handed the work to the user, announced a call it did not make, or the choice forced one."""
    if _count(produced_calls) or is_retry(req) or not effective_tools(req):
        return False
    choice = req.tool_choice.type if req.tool_choice else "auto"
    if choice == "none":
        return False
    if choice in ("any", "tool"):
        return True
    text = response_text.strip()
    if not text:
        return False
    return (
        looks_like_refusal(text)
        or looks_like_handoff(text)
        or looks_like_announcement(text)
        or bool(_FAILED_BLOCK.search(text))
    )


def retry_instruction(req: ir.Request, previous_text: str = "") -> str:
    forced = ""
    if req.tool_choice and req.tool_choice.type == "tool" and req.tool_choice.name:
        forced = f' You must call "{req.tool_choice.name}".'
    failed = ""
    if _FAILED_BLOCK.search(previous_text):
        failed = (
            " Your action block could not be used: check the tool name against the list and give"
            " every required parameter, as valid JSON."
        )
    return (
        f"{RETRY_MARK} Your last reply did not call a tool, but this task needs one. The tools"
        " listed in the system prompt are available and work: do not explain, refuse or ask me"
        " to run anything. Reply now with at least one ```json action block for the single most"
        f" appropriate tool, with no text before it.{forced}{failed}"
    )


def retry_request(req: ir.Request, previous_text: str) -> ir.Request:
    """``req`` continued by the reply that missed its tool and a firmer instruction.

    Give it the client's request (with tools) and put the result through ``inject_contract``
    like the original; an IPC session can send just the last two messages."""
    extra: list[ir.Message] = []
    if previous_text.strip():
        extra.append(ir.Message("assistant", (ir.TextPart(previous_text),)))
    extra.append(ir.Message("user", (ir.TextPart(retry_instruction(req, previous_text)),)))
    return replace(req, messages=req.messages + tuple(extra))
