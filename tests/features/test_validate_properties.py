"""features/validate.py alone, by property: generated conversations and image bytes.

The server tests (tests/server/test_hardening_validation.py) prove the wire behaviour; these
prove the pass itself over many more shapes than a table can hold: every well-paired tool
conversation passes, removing or renaming any one result is refused naming that exact part,
and no image payload makes the check do anything but pass or raise ``InvalidRequest``.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings, strategies as st

from lingma_proxy import errors, ir
from lingma_proxy.dialects import anthropic_messages as am, openai_chat as oc, openai_responses as orr
from lingma_proxy.features import validate

ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=12)
# A conversation: per round, the ids called and a permutation of them answered.
rounds = st.lists(st.lists(ids, min_size=1, max_size=4, unique=True), min_size=1, max_size=6)


def _unique(rs: list[list[str]]) -> list[list[str]]:
    seen: set[str] = set()
    out = []
    for r in rs:
        r = [i for i in r if i not in seen]
        seen.update(r)
        if r:
            out.append(r)
    return out


def anthropic_body(rs: list[list[str]], answered: list[list[str]]) -> dict:
    msgs: list[dict] = [{"role": "user", "content": "go"}]
    for calls, results in zip(rs, answered, strict=True):
        uses = [{"type": "tool_use", "id": c, "name": "t", "input": {}} for c in calls]
        answers = [{"type": "tool_result", "tool_use_id": r, "content": "ok"} for r in results]
        msgs.append({"role": "assistant", "content": uses})
        msgs.append({"role": "user", "content": [*answers, {"type": "text", "text": "more"}]})
    return {"model": "m", "max_tokens": 5, "messages": msgs}


def chat_body(rs: list[list[str]], answered: list[list[str]]) -> dict:
    msgs: list[dict] = [{"role": "user", "content": "go"}]
    for calls, results in zip(rs, answered, strict=True):
        msgs.append({"role": "assistant", "tool_calls": [
            {"id": c, "type": "function", "function": {"name": "t", "arguments": "{}"}} for c in calls]})
        msgs += [{"role": "tool", "tool_call_id": r, "content": "ok"} for r in results]
    msgs.append({"role": "user", "content": "next"})
    return {"model": "m", "messages": msgs}


def responses_body(rs: list[list[str]], answered: list[list[str]]) -> dict:
    items: list[dict] = [{"role": "user", "content": "go"}]
    for calls, results in zip(rs, answered, strict=True):
        items += [{"type": "function_call", "call_id": c, "name": "t", "arguments": "{}"} for c in calls]
        items += [{"type": "function_call_output", "call_id": r, "output": "ok"} for r in results]
    items.append({"role": "user", "content": "next"})
    return {"model": "m", "input": items}


BUILDERS = [(am, anthropic_body), (oc, chat_body), (orr, responses_body)]


@settings(max_examples=60, deadline=None)
@given(rs=rounds, data=st.data())
@pytest.mark.parametrize(("dialect", "build"), BUILDERS, ids=["anthropic", "chat", "responses"])
def test_paired_conversations_pass_and_any_broken_pair_is_named(dialect, build, rs, data) -> None:
    rs = _unique(rs)
    if not rs:
        return
    answered = [data.draw(st.permutations(r)) for r in rs]
    validate.check(dialect.parse_request(build(rs, answered)))

    k = data.draw(st.integers(0, len(rs) - 1))
    victim = data.draw(st.sampled_from(answered[k]))
    mode = data.draw(st.sampled_from(["drop", "rename"]))
    broken = [list(a) for a in answered]
    j = broken[k].index(victim)
    if mode == "drop":
        del broken[k][j]
    else:
        broken[k][j] = victim + "\u2020"  # an id no call has
    req = dialect.parse_request(build(rs, broken))
    with pytest.raises(errors.InvalidRequest) as info:
        validate.check(req)
    assert info.value.param and info.value.message.startswith(info.value.param)
    assert victim in info.value.message  # the dropped call's id, or the renamed result's


MEDIA = [*validate.SUPPORTED_MEDIA, "image/jpg", "IMAGE/PNG", "image/bmp", ""]


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64), media=st.sampled_from(MEDIA))
def test_any_image_bytes_pass_or_are_refused_cleanly(raw: bytes, media: str) -> None:
    part = ir.ImagePart(media_type=media, data=base64.b64encode(raw).decode())
    try:
        validate.check_image(part, "p")
    except errors.InvalidRequest as exc:
        assert exc.param == "p"
        return
    sniffed = validate.sniff(raw)
    assert sniffed is not None
    assert media == "" or validate._ALIASES.get(media.lower(), media.lower()) == sniffed


@settings(max_examples=300, deadline=None)
@given(url=st.text(max_size=40))
def test_only_http_and_data_urls_pass(url: str) -> None:
    part = ir.ImagePart(url=url)
    try:
        local = validate.check_image(part, "p")
    except errors.InvalidRequest:
        return
    assert not local
    assert url.strip()[:8].lower().startswith(("http://", "https://", "data:"))
