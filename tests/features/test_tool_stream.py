"""The streaming filter: same result as the non-streaming parse at every split, nothing leaked,
nothing lost, IR invariants kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from features.tool_sets import CLAUDE, ids
from lingma_proxy import ir
from lingma_proxy.features.action_blocks import parse_action_parts
from lingma_proxy.features.tool_stream import CallStream, EmulatedToolStream, emulate_response

F = "```"


def act(name: str, params: Any) -> str:
    return f"{F}json action\n" + json.dumps({"tool": name, "parameters": params}) + f"\n{F}"


def upstream(deltas: list[str], stop: ir.StopReason = "end_turn") -> list[ir.Event]:
    evs: list[ir.Event] = [ir.MessageStart("msg_1", "m", ir.Usage(10)), ir.BlockStart(0, "text")]
    evs += [ir.TextDelta(0, d) for d in deltas]
    evs += [ir.BlockStop(0), ir.MessageDelta(stop, None, ir.Usage(10, 5)), ir.MessageStop()]
    return evs


def run(conv: CallStream, events: list[ir.Event]) -> list[ir.Event]:
    out: list[ir.Event] = []
    for ev in events:
        out += conv.feed(ev)
    return out + conv.finish()


def check_invariants(events: list[ir.Event]) -> None:
    """Blocks strictly sequential, indexes from 0 without gaps, message frame in order."""
    open_idx: int | None = None
    next_idx = 0
    kinds: dict[int, str] = {}
    assert isinstance(events[0], ir.MessageStart)
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            assert open_idx is None and ev.index == next_idx, ev
            open_idx, next_idx = ev.index, next_idx + 1
            kinds[ev.index] = ev.kind
        elif isinstance(ev, ir.BlockStop):
            assert ev.index == open_idx, ev
            open_idx = None
        elif isinstance(ev, (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta, ir.SignatureDelta)):
            assert ev.index == open_idx, ev
            if isinstance(ev, ir.TextDelta):
                assert kinds[ev.index] == "text"
        elif isinstance(ev, (ir.MessageDelta, ir.MessageStop)):
            assert open_idx is None, ev
    assert isinstance(events[-1], ir.MessageStop)


def stream_parts(text_deltas: list[str], tools: tuple[ir.Tool, ...] = CLAUDE) -> tuple[ir.Response, list[ir.Event]]:
    req = ir.Request("m", (), tools=tools)
    out = run(EmulatedToolStream(req, new_id=ids()), upstream(text_deltas))
    check_invariants(out)
    return ir.accumulate(out), out


def expected(text: str, tools: tuple[ir.Tool, ...] = CLAUDE) -> tuple[ir.Part, ...]:
    return tuple(parse_action_parts(text, tools, new_id=ids()))


REPLY = ("I'll read the config first.\n\n" + act("Read", {"file_path": "/etc/app.toml"})
         + "\n" + act("Bash", {"command": "ls -la `pwd`"}) + "\n\nThen report <back>.")


def test_reply_whole() -> None:
    resp, out = stream_parts([REPLY])
    assert resp.content == expected(REPLY)
    assert [type(p).__name__ for p in resp.content] == ["TextPart", "ToolCallPart", "ToolCallPart", "TextPart"]
    assert resp.stop_reason == "tool_use"
    assert resp.usage == ir.Usage(10, 5)
    # one ToolArgsDelta with the whole JSON per call
    args = [e for e in out if isinstance(e, ir.ToolArgsDelta)]
    assert [json.loads(a.fragment) for a in args] == [{"file_path": "/etc/app.toml"}, {"command": "ls -la `pwd`"}]


@pytest.mark.parametrize("text", [
    REPLY,
    "A" + act("Bash", {"command": "x"}) + "B" + act("Grep", {"pattern": "y"}),
    "<tool_call>{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}</tool_call> after",
    "pre\n{\"tool\": \"Bash\", \"parameters\": {\"command\": \"ls\"}}\npost",
    "code:\n" + F + "python\nx = '" + F + "json action'\n" + F + "\n" + act("Bash", {"command": "a"}),
    "bad " + F + "json action\n{\"tool\": \"Nope\", \"parameters\": {}}\n" + F + " tail",
    "````" + act("Bash", {"command": "x"}) + "``````python\n<function=Bash></tool_call>```",
    "[TOOL_CALLS]Bash[ARGS]{\"command\": \"ls\"} <function=Bash><parameter=command>pwd</parameter></function>",
])
def test_split_at_every_position(text: str) -> None:
    want = expected(text)
    for i in range(len(text) + 1):
        resp, _ = stream_parts([text[:i], text[i:]])
        assert resp.content == want, i


def test_char_by_char_and_three_way_splits() -> None:
    text = "Hi `x` <b>.\n" + act("Bash", {"command": "ls"}) + "\nBye."
    want = expected(text)
    assert stream_parts(list(text))[0].content == want
    for i in range(0, len(text) + 1, 3):
        for j in range(i, len(text) + 1, 5):
            assert stream_parts([text[:i], text[i:j], text[j:]])[0].content == want, (i, j)


def test_no_action_text_leaks_into_text_blocks() -> None:
    for i in range(len(REPLY) + 1):
        _, out = stream_parts([REPLY[:i], REPLY[i:]])
        streamed = "".join(e.text for e in out if isinstance(e, ir.TextDelta))
        assert "json action" not in streamed and '"tool"' not in streamed and F not in streamed


def test_text_streams_as_it_arrives() -> None:
    """Outside blocks only a bounded look-behind is held (what may start an opener)."""
    text = "Plain prose with `code`, a < b, [x] and {y}. " * 20
    req = ir.Request("m", (), tools=CLAUDE)
    conv = EmulatedToolStream(req)
    conv.feed(ir.MessageStart("m", "m"))
    conv.feed(ir.BlockStart(0, "text"))
    fed, shown = "", ""
    for i in range(0, len(text), 7):
        chunk = text[i:i + 7]
        fed += chunk
        shown += "".join(e.text for e in conv.feed(ir.TextDelta(0, chunk)) if isinstance(e, ir.TextDelta))
        assert fed.startswith(shown)
        assert len(fed) - len(shown) <= 16, (fed, shown)
    rest = "".join(e.text for e in conv.feed(ir.BlockStop(0)) if isinstance(e, ir.TextDelta))
    assert shown + rest == text


def test_text_before_a_call_is_emitted_before_it() -> None:
    text = "x" * 300 + act("Bash", {"command": "ls"})
    _, out = stream_parts([text[:150], text[150:]])
    first_call = next(i for i, e in enumerate(out) if isinstance(e, ir.BlockStart) and e.kind == "tool_call")
    assert "".join(e.text for e in out[:first_call] if isinstance(e, ir.TextDelta)) == "x" * 300


def test_thinking_passes_through_and_indexes_renumber() -> None:
    req = ir.Request("m", (), tools=CLAUDE)
    events: list[ir.Event] = [
        ir.MessageStart("m1", "m"),
        ir.BlockStart(0, "thinking"), ir.ThinkingDelta(0, "hmm"), ir.SignatureDelta(0, "sig"), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, "Look: " + act("Read", {"file_path": "/a"})), ir.BlockStop(1),
        ir.BlockStart(2, "thinking"), ir.ThinkingDelta(2, "more"), ir.BlockStop(2),
        ir.BlockStart(3, "text"), ir.TextDelta(3, "done"), ir.BlockStop(3),
        ir.MessageDelta("end_turn"), ir.MessageStop(),
    ]
    out = run(EmulatedToolStream(req, new_id=ids()), events)
    check_invariants(out)
    resp = ir.accumulate(out)
    assert resp.content == (
        ir.ThinkingPart("hmm", signature="sig"), ir.TextPart("Look:"),
        ir.ToolCallPart("call_0001", "Read", '{"file_path":"/a"}'),
        ir.ThinkingPart("more"), ir.TextPart("done"),
    )
    assert resp.stop_reason == "tool_use"


def test_tool_choice_none_passes_text_untouched() -> None:
    req = ir.Request("m", (), tools=CLAUDE, tool_choice=ir.ToolChoice("none"))
    events = upstream([act("Bash", {"command": "ls"})])
    out = run(EmulatedToolStream(req), events)
    assert out == events


def test_no_tools_no_history_passes_through() -> None:
    events = upstream(["hello ", act("Bash", {"command": "ls"})])
    assert run(EmulatedToolStream(ir.Request("m", ())), events) == events


def test_history_keeps_tool_mode_without_tools() -> None:
    history = (
        ir.Message("user", (ir.TextPart("list files"),)),
        ir.Message("assistant", (ir.ToolCallPart("call_1", "Bash", '{"command":"ls"}'),)),
        ir.Message("user", (ir.ToolResultPart("call_1", (ir.TextPart("a.py"),)),)),
    )
    req = ir.Request("m", history)
    out = run(EmulatedToolStream(req, new_id=ids()), upstream([act("Bash", {"command": "cat a.py"})]))
    assert ir.accumulate(out).tool_calls()[0].name == "Bash"


def test_parallel_false_limits_to_one_call() -> None:
    req = ir.Request("m", (), tools=CLAUDE, parallel_tool_calls=False)
    text = act("Bash", {"command": "a"}) + act("Bash", {"command": "b"})
    resp = ir.accumulate(run(EmulatedToolStream(req), upstream([text])))
    assert len(resp.tool_calls()) == 1 and resp.text() == ""


def test_unclosed_text_block_is_flushed_on_finish_and_error() -> None:
    req = ir.Request("m", (), tools=CLAUDE)
    conv = EmulatedToolStream(req)
    out = conv.feed(ir.MessageStart("m", "m")) + conv.feed(ir.BlockStart(0, "text"))
    out += conv.feed(ir.TextDelta(0, "partial <tool"))
    err = conv.feed(ir.StreamError("api_error", "boom"))
    assert [type(e).__name__ for e in err] == ["TextDelta", "BlockStop", "StreamError"]
    assert "".join(e.text for e in out + err if isinstance(e, ir.TextDelta)) == "partial <tool"
    assert conv.finish() == []


def test_emulate_response_matches_stream() -> None:
    req = ir.Request("m", (), tools=CLAUDE)
    resp = ir.Response("r1", "m", (ir.ThinkingPart("t", item_id="rs_1"), ir.TextPart(REPLY)), usage=ir.Usage(3, 4))
    got = emulate_response(resp, req, new_id=ids())
    assert got.content[0] == ir.ThinkingPart("t", item_id="rs_1")
    assert got.content[1:] == expected(REPLY)
    assert got.stop_reason == "tool_use" and got.usage == resp.usage and got.id == "r1"
    plain = ir.Response("r2", "m", (ir.TextPart("just text"),))
    assert emulate_response(plain, req) is plain


# --------------------------------------------------------------------------- hypothesis

NASTY = st.lists(st.sampled_from(list("ab `\n\"{}[]<>/:=\\") + [
    F, "json action\n", "<tool_call>", "</tool_call>", '{"tool": ', '"Bash"', '"parameters": ',
    "[TOOL_CALLS]", "<function=", "中文", "\r\n"]), max_size=40).map("".join)


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    pieces, prev = [], 0
    for c in cuts + [len(text)]:
        pieces.append(text[prev:c])
        prev = c
    return pieces


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_text_and_splits(data: st.DataObject) -> None:
    text = "".join(data.draw(st.lists(NASTY, max_size=4)))
    deltas = data.draw(splits(text))
    resp, _ = stream_parts(deltas)
    assert resp.content == expected(text)
    if not resp.tool_calls():
        assert resp.text() == text  # nothing of non-block text is ever lost


SAFE = st.lists(st.sampled_from(list("abc xyz.,!?:\n\t") + ["中文", "λ"]), max_size=30).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_blocks_between_text(data: st.DataObject) -> None:
    noise = data.draw(st.lists(SAFE, min_size=1, max_size=5))
    blocks = [act("Bash", {"command": f"echo {i}"}) for i in range(len(noise) - 1)]
    text = "".join(n + (blocks[i] if i < len(blocks) else "") for i, n in enumerate(noise))
    resp, _ = stream_parts(data.draw(splits(text)))
    assert len(resp.tool_calls()) == len(blocks)
    squash = lambda s: "".join(s.split())  # noqa: E731
    assert squash(resp.text()) == squash("".join(noise))
    assert resp.content == expected(text)
