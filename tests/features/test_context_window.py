"""features.context_window.fit: warning levels, error mode, and truncation at every cut point."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from lingma_proxy import errors, ir
from lingma_proxy.features import tokens
from lingma_proxy.features.context_window import FitResult, fit, note_text

SYSTEM = (ir.TextPart("You are a coding agent. Follow the user's instructions carefully. " * 8),)
TOOLS = (ir.Tool("Bash", "Run a shell command", {"type": "object", "properties": {"command": {"type": "string"}}}),
         ir.Tool("Read", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}}))


def user(text: str) -> ir.Message:
    return ir.Message("user", (ir.TextPart(text),))


def assistant(text: str = "", *calls: tuple[str, str]) -> ir.Message:
    parts: list[ir.Part] = [ir.TextPart(text)] if text else []
    parts += [ir.ToolCallPart(cid, name, '{"command": "ls -la /src/project"}') for cid, name in calls]
    return ir.Message("assistant", tuple(parts))


def results(*ids: str, size: int = 1) -> ir.Message:
    return ir.Message("user", tuple(ir.ToolResultPart(cid, (ir.TextPart("output line\n" * 20 * size),))
                                    for cid in ids))


def conversation() -> tuple[ir.Message, ...]:
    """A Claude Code-like session: a task, a tool loop with single and parallel calls, results
    split over two messages, a later user turn, and a final tool round."""
    return (
        user("Fix the failing tests in the project, then run them again."),
        assistant("Let me look.", ("c1", "Bash")),
        results("c1"),
        assistant("", ("c2", "Read"), ("c3", "Read")),
        results("c2", "c3", size=2),
        assistant("Running the tests.", ("c4", "Bash")),
        results("c4"),
        assistant("", ("c5", "Bash"), ("c6", "Bash")),
        results("c5"),
        results("c6"),  # the parallel results arrive as two messages
        assistant("The tests pass now."),
        user("Great. Now also update the changelog please."),
        assistant("", ("c7", "Read")),
        results("c7", size=3),
        assistant("Done: the changelog has a new entry."),
        user("Thanks! One more thing: what did you change in the parser?"),
    )


def request(messages: tuple[ir.Message, ...], **kw: object) -> ir.Request:
    return ir.Request("qwen3-coder", messages, system=SYSTEM, tools=TOOLS, **kw)  # type: ignore[arg-type]


def check_invariants(original: ir.Request, res: FitResult, budget: int) -> None:
    out = res.request
    msgs = out.messages
    assert msgs, "never an empty conversation"
    assert msgs[0].role == "user", "never an assistant-first conversation"
    assert out.system == original.system and out.tools == original.tools
    last = original.messages[-1]
    assert msgs[-1].role == last.role and msgs[-1].content[-len(last.content):] == last.content, \
        "the last turn is kept whole"
    calls = {p.id for m in msgs for p in m.content if isinstance(p, ir.ToolCallPart)}
    answered = {p.tool_call_id for m in msgs for p in m.content if isinstance(p, ir.ToolResultPart)}
    assert answered <= calls, f"orphan tool results: {answered - calls}"
    all_answered = {p.tool_call_id for m in original.messages for p in m.content if isinstance(p, ir.ToolResultPart)}
    assert calls & all_answered <= answered, "a kept tool call lost its result"
    # what follows the opener is an untouched suffix of the original conversation
    assert msgs[1:] == original.messages[len(original.messages) - len(msgs) + 1:]
    assert res.estimated_tokens <= budget
    assert res.estimated_tokens == tokens.estimate_request(out)


def test_truncation_at_every_cut_point_keeps_tool_pairs_together() -> None:
    req = request(conversation())
    full = tokens.estimate_request(req)
    fixed = tokens.estimate_request(request((conversation()[-1],)))
    seen_drops: set[int] = set()
    for limit in range(fixed, full + 2):
        try:
            res = fit(req, limit, 0, "truncate")
        except errors.ContextLengthExceeded:
            assert limit < fixed + tokens.estimate_text(note_text(16)) + tokens.MESSAGE_OVERHEAD
            continue
        check_invariants(req, res, limit)
        seen_drops.add(res.dropped_messages)
        if limit >= full:
            assert res.request is req and res.dropped_messages == 0
    # Every unit boundary was a cut (with the task kept, then without it); never 1 (inside the
    # c1 pair) nor 8 (between the c5 and c6 result messages of one parallel round).
    assert seen_drops == {0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15}


def test_dropped_units_never_split_calls_from_results() -> None:
    msgs = conversation()
    req = request(msgs)
    full = tokens.estimate_request(req)
    res = fit(req, full - 50, 0, "truncate")
    kept_ids = {p.id for m in res.request.messages for p in m.content if isinstance(p, ir.ToolCallPart)}
    # the smallest cut drops the first tool round (c1 and its result) and keeps the task
    assert "c1" not in kept_ids and {"c2", "c3", "c7"} <= kept_ids
    opener = res.request.messages[0]
    assert opener.content[0] == msgs[0].content[0]
    assert opener.content[-1] == ir.TextPart(note_text(2))
    assert res.request.messages[1] == msgs[3] and res.dropped_messages == 2
    assert res.warning_level == 100 and "dropped the 2 oldest messages" in (res.warning() or "")


def test_tail_starting_with_a_user_turn_gets_the_note_folded_in() -> None:
    msgs = conversation()
    req = request(msgs)
    tail = msgs[11:]
    budget = tokens.estimate_request(request(tail)) + tokens.estimate_text(note_text(11)) + 10
    res = fit(req, budget, 0, "truncate")
    first = res.request.messages[0]
    assert first.role == "user"
    assert first.content[-len(tail[0].content):] == tail[0].content
    assert ir.TextPart(note_text(res.dropped_messages)) in first.content
    assert res.request.messages[1:] == tail[1:]


def test_reserve_for_output_counts_against_the_budget() -> None:
    req = request(conversation())
    full = tokens.estimate_request(req)
    assert fit(req, full, 0, "error").dropped_messages == 0
    with pytest.raises(errors.ContextLengthExceeded):
        fit(req, full, 100, "error")
    res = fit(req, full + 100, 100, "truncate")
    assert res.dropped_messages == 0 and res.budget == full


@pytest.mark.parametrize(("share", "level"), [(0.5, 0), (0.74, 0), (0.75, 75), (0.89, 75), (0.9, 90), (1.0, 90)])
def test_warning_levels(share: float, level: int) -> None:
    req = request(conversation())
    full = tokens.estimate_request(req)
    limit = int(full / share) if share < 1 else full
    res = fit(req, limit, 0, "error")
    assert res.warning_level == level and res.dropped_messages == 0 and res.request is req
    assert (res.warning() is None) == (level == 0)
    if level:
        assert f"of the {limit}-token window" in (res.warning() or "")


def test_error_mode_message_gives_the_numbers_and_what_to_do() -> None:
    req = request(conversation())
    full = tokens.estimate_request(req)
    with pytest.raises(errors.ContextLengthExceeded) as info:
        fit(req, 1000, 200, "error")
    exc = info.value
    assert exc.status == 400 and exc.code == "context_length_exceeded" and exc.kind == "invalid_request_error"
    assert exc.message.startswith(f"prompt is too long: {full} tokens > 800 maximum")
    for needle in ("model qwen3-coder", "1000-token context window", "200 tokens are kept",
                   "LM Studio", "Ollama", "context_overflow=truncate", "context_window"):
        assert needle in exc.message


def test_truncate_mode_errors_when_the_last_turn_cannot_fit() -> None:
    msgs = (user("hi"), assistant("", ("c1", "Bash")), results("c1", size=50))
    req = request(msgs)
    last_unit = tokens.estimate_request(request(msgs[1:]))
    with pytest.raises(errors.ContextLengthExceeded) as info:
        fit(req, last_unit - 5, 0, "truncate")
    assert "even the system prompt, the tool definitions and the last turn" in info.value.message
    assert "context_overflow=truncate" not in info.value.message


def test_a_single_long_tool_loop_can_still_be_truncated() -> None:
    """One user prompt followed by many tool rounds: cuts fall between rounds, the task stays."""
    msgs: list[ir.Message] = [user("Refactor the module.")]
    for i in range(30):
        msgs += [assistant(f"step {i}", (f"t{i}", "Bash")), results(f"t{i}")]
    msgs.append(assistant("All done."))
    req = request(tuple(msgs))
    full = tokens.estimate_request(req)
    res = fit(req, full // 2, 0, "truncate")
    check_invariants(req, res, full // 2)
    out = res.request.messages
    assert out[0].content[0] == msgs[0].content[0] and out[1].role == "assistant"
    assert 20 <= res.dropped_messages <= 40


def test_orphan_result_from_the_client_is_never_the_opener() -> None:
    msgs = (results("gone"), assistant("ok"), user("next"), assistant("", ("c1", "Bash")), results("c1"))
    req = request(msgs)
    res = fit(req, tokens.estimate_request(request(msgs[2:])) + 30, 0, "truncate")
    check_invariants(req, res, tokens.estimate_request(request(msgs[2:])) + 30)


def test_no_messages_over_the_limit_is_an_error_even_when_truncating() -> None:
    req = request(())
    with pytest.raises(errors.ContextLengthExceeded):
        fit(req, 10, 0, "truncate")


# ------------------------------------------------------------------ property: random sessions

STEP = st.one_of(
    st.tuples(st.just("user"), st.integers(1, 30)),
    st.tuples(st.just("text"), st.integers(1, 30)),
    st.tuples(st.just("tools"), st.integers(1, 3), st.booleans(), st.integers(1, 5)),
    st.tuples(st.just("system"), st.integers(1, 5)),
)


def session(steps: list[tuple[object, ...]]) -> tuple[ir.Message, ...]:
    msgs: list[ir.Message] = [user("task " * 5)]
    n = 0
    for step in steps:
        kind = step[0]
        if kind == "user":
            msgs.append(user("more " * int(step[1])))  # type: ignore[call-overload]
        elif kind == "text":
            msgs.append(assistant("answer " * int(step[1])))  # type: ignore[call-overload]
        elif kind == "system":
            msgs.append(ir.Message("system", (ir.TextPart("note " * int(step[1])),)))  # type: ignore[call-overload]
        else:
            ids = [f"k{n + j}" for j in range(int(step[1]))]  # type: ignore[call-overload]
            n += len(ids)
            msgs.append(assistant("", *((i, "Bash") for i in ids)))
            size = int(step[3])  # type: ignore[call-overload]
            if step[2] and len(ids) > 1:  # results split over two messages
                msgs += [results(*ids[:1], size=size), results(*ids[1:], size=size)]
            else:
                msgs.append(results(*ids, size=size))
    return tuple(msgs)


@settings(max_examples=150, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=14), st.floats(0.0, 1.05))
def test_random_sessions_truncate_without_orphans(steps: list[tuple[object, ...]], share: float) -> None:
    req = request(session(steps))
    full = tokens.estimate_request(req)
    limit = max(1, int(full * share))
    try:
        res = fit(req, limit, 0, "truncate")
    except errors.ContextLengthExceeded as exc:
        assert exc.message.startswith("prompt is too long: ")
        return
    check_invariants(req, res, limit)
    if full <= limit:
        assert res.request is req
