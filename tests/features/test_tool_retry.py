"""The missed-tool retry rule."""

from __future__ import annotations

import pytest

from features.tool_sets import CLAUDE
from lingma_proxy import ir
from lingma_proxy.features.tool_contract import inject_contract
from lingma_proxy.features.tool_retry import (
    RETRY_MARK,
    is_retry,
    looks_like_announcement,
    looks_like_handoff,
    looks_like_refusal,
    retry_request,
    should_retry,
)

REQ = ir.Request("m", (ir.Message("user", (ir.TextPart("how much memory is free?"),)),), tools=CLAUDE)

MISSED = [
    # from the reference's test suite
    "我需要使用终端工具来查看内存。",
    "由于当前环境限制，请手动运行 top。",
    "抱歉，我无法直接执行系统命令。",
    "你可以在终端中运行 vm_stat。",
    "I need to read the file first.",
    "Let me use the web search tool.",
    "You can run the following command in your terminal.",
    "现在我需要切换到计划模式。",
    "现在我将编辑文件，在末尾追加一行 beta，然后生成 unified diff。",
    "当前环境限制，无法查看。",
    "我无法访问你的电脑或本机文件。",
    "I cannot execute commands in your local machine.",
    "I can't access your computer directly.",
    # more
    "I don't have access to tools in this environment.",
    "As an AI language model, I cannot browse the internet.",
    "Here is the plan. First I'll inspect the config.\n\nLet me check the tests:",
    "Please run `free -h` and paste the output here.",
    "让我查看一下 main.py 的内容：",
    "Sure!\n```json action\n{\"tool\": \"Nope\", \"parameters\": {}}\n```",
]
FINE = [
    "这个文件负责 HTTP API 路由和 OpenAI 兼容响应。",
    "A closure captures variables from its enclosing scope.",
    "Done. Let me know if you need anything else.",
    "I'll update the docs too if you want.",
    "You can run the tests with pytest.",
    "Shall I run the tests?",
    "Let me explain: a mutex serialises access. " + "It is simple. " * 30,
    "",
]


@pytest.mark.parametrize("text", MISSED)
def test_missed_tool_use_retries(text: str) -> None:
    assert should_retry(REQ, text, 0)


@pytest.mark.parametrize("text", FINE)
def test_normal_answers_do_not_retry(text: str) -> None:
    assert not should_retry(REQ, text, 0)


def test_phrase_families() -> None:
    assert looks_like_refusal("I cannot run commands here")
    assert looks_like_handoff("请手动运行这个命令")
    assert looks_like_announcement("OK. Let me look at the logs.")
    assert not looks_like_announcement("Let me look at the logs. " + "Then the answer is 42. " * 20)


def test_never_when_calls_were_made_or_no_tools_or_none() -> None:
    text = "I cannot access your files."
    assert not should_retry(REQ, text, 1)
    assert not should_retry(REQ, text, [object()])
    assert should_retry(REQ, text, [])
    assert not should_retry(ir.Request("m", ()), text, 0)
    assert not should_retry(ir.Request("m", (), tools=CLAUDE, tool_choice=ir.ToolChoice("none")), text, 0)


def test_forced_choice_retries_on_any_text() -> None:
    for choice in (ir.ToolChoice("any"), ir.ToolChoice("tool", "Bash")):
        req = ir.Request("m", (), tools=CLAUDE, tool_choice=choice)
        assert should_retry(req, "The answer is 42.", 0)
        assert should_retry(req, "", 0)
        assert not should_retry(req, "x", 1)


def test_retry_request_and_never_twice() -> None:
    req = ir.Request("m", REQ.messages, tools=CLAUDE, tool_choice=ir.ToolChoice("tool", "Bash"))
    again = retry_request(req, "I can't run commands.")
    assert again.messages[:-2] == req.messages
    assert again.messages[-2] == ir.Message("assistant", (ir.TextPart("I can't run commands."),))
    last = again.messages[-1]
    assert last.role == "user" and last.text().startswith(RETRY_MARK)
    assert 'You must call "Bash".' in last.text()
    assert again.tools == req.tools and again.tool_choice == req.tool_choice
    assert is_retry(again) and not is_retry(req)
    assert not should_retry(again, "I can't run commands.", 0)  # the relay's one retry is the last
    # the retried request goes through the same injection
    assert "```json action" in inject_contract(again).system[-1].text


def test_retry_mentions_a_failed_block() -> None:
    again = retry_request(REQ, '```json action\n{"tool": "Nope"}\n```')
    assert "could not be used" in again.messages[-1].text()
    empty = retry_request(REQ, "  ")
    assert [m.role for m in empty.messages] == ["user", "user"]
