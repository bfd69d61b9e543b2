"""The Responses store behind ``previous_response_id``: continuation, chains, store: false,
unknown ids, LRU bounds."""

from __future__ import annotations

import pytest

from lingma_proxy import errors, ir
from lingma_proxy.features.response_store import ResponseStore


def user(text: str) -> ir.Message:
    return ir.Message("user", (ir.TextPart(text),))


def request(*texts: str, prev: str | None = None, store: bool | None = None,
            system: str = "") -> ir.Request:
    extra: dict[str, object] = {}
    if prev is not None:
        extra["previous_response_id"] = prev
    if store is not None:
        extra["store"] = store
    return ir.Request(model="m", messages=tuple(user(t) for t in texts),
                      system=(ir.TextPart(system),) if system else (), extra=extra,
                      dialect="openai_responses")


def answer(*parts: ir.Part) -> ir.Response:
    return ir.Response("resp_x", "m", parts, "end_turn", None, ir.Usage(5, 3))


def test_continue_a_response() -> None:
    store = ResponseStore()
    first = request("remember 7", system="be brief")
    store.put("resp_1", first, answer(ir.ThinkingPart("t", encrypted="e"), ir.TextPart("ok")))
    out = store.expand(request("what number?", prev="resp_1"))
    assert out.system == (ir.TextPart("be brief"),)
    assert out.messages == (
        user("remember 7"),
        ir.Message("assistant", (ir.ThinkingPart("t", encrypted="e"), ir.TextPart("ok"))),
        user("what number?"),
    )
    # the id is consumed: an upstream must not see an id only this proxy knows
    assert "previous_response_id" not in out.extra


def test_new_system_wins_and_other_fields_are_the_new_requests() -> None:
    store = ResponseStore()
    store.put("resp_1", request("a", system="old"), answer(ir.TextPart("b")))
    new = request("c", prev="resp_1", system="new")
    out = store.expand(new)
    assert out.system_text() == "new" and out.model == new.model and out.dialect == new.dialect


def test_chain_of_three() -> None:
    store = ResponseStore()
    r1 = request("one")
    store.put("resp_1", r1, answer(ir.TextPart("1")))
    r2 = store.expand(request("two", prev="resp_1"))
    store.put("resp_2", r2, answer(ir.ToolCallPart("call_1", "f", "{}")))
    r3 = store.expand(request("three", prev="resp_2"))
    assert [(m.role, m.text()) for m in r3.messages] == [
        ("user", "one"), ("assistant", "1"), ("user", "two"), ("assistant", ""),
        ("user", "three")]
    assert r3.messages[3].content == (ir.ToolCallPart("call_1", "f", "{}"),)


def test_unknown_id_is_not_found_naming_the_field() -> None:
    with pytest.raises(errors.NotFound) as info:
        ResponseStore().expand(request("x", prev="resp_nope"))
    assert info.value.param == "previous_response_id"
    assert "resp_nope" in info.value.message and info.value.status == 404


def test_store_false_is_not_kept() -> None:
    store = ResponseStore()
    store.put("resp_1", request("x", store=False), answer(ir.TextPart("y")))
    assert store.get("resp_1") is None and len(store) == 0
    with pytest.raises(errors.NotFound):
        store.expand(request("z", prev="resp_1"))


def test_without_previous_id_the_request_is_unchanged() -> None:
    req = request("x")
    assert ResponseStore().expand(req) is req


def test_get_returns_request_and_response() -> None:
    store = ResponseStore()
    resp = answer(ir.TextPart("y"))
    store.put("resp_1", request("x"), resp)
    got = store.get("resp_1")
    assert got is not None
    stored_req, stored_resp = got
    assert stored_resp is resp
    assert [m.role for m in stored_req.messages] == ["user", "assistant"]


def test_empty_answer_adds_no_assistant_message() -> None:
    store = ResponseStore()
    store.put("resp_1", request("x"), answer())
    assert store.expand(request("y", prev="resp_1")).messages == (user("x"), user("y"))


def test_lru_by_count() -> None:
    store = ResponseStore(max_items=2)
    for i in range(3):
        store.put(f"resp_{i}", request(str(i)), answer(ir.TextPart("a")))
    assert "resp_0" not in store and len(store) == 2
    store.get("resp_1")  # touched: now the most recent
    store.put("resp_3", request("3"), answer(ir.TextPart("a")))
    assert "resp_1" in store and "resp_2" not in store


def test_lru_by_size_keeps_the_newest() -> None:
    store = ResponseStore(max_items=100, max_bytes=1000)
    store.put("resp_small", request("x" * 100), answer())
    store.put("resp_big", request("y" * 5000), answer())
    assert "resp_small" not in store and "resp_big" in store  # alone it may exceed the bound
    store.put("resp_small2", request("z" * 10), answer())
    assert list(store._entries) == ["resp_small2"]


def test_put_twice_replaces() -> None:
    store = ResponseStore(max_bytes=10_000)
    store.put("resp_1", request("a" * 4000), answer())
    store.put("resp_1", request("b"), answer())
    store.put("resp_2", request("c" * 4000), answer())
    assert len(store) == 2  # the replaced entry's size was released


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        ResponseStore(max_items=0)
