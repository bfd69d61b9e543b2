from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from lingma_proxy import ir
from lingma_proxy.features import hygiene, tokens


def _png(w: int, h: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _jpeg(w: int, h: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (w, h)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize(("text", "low", "high"), [
    ("", 0, 0),
    ("hello", 1, 2),
    ("The quick brown fox jumps over the lazy dog.", 9, 14),
    ("你好，世界", 3, 6),  # o200k: 3, cl100k: 6
    ("def f(x):\n    return x * 2\n" * 100, 900, 1200),  # o200k: ~1,100
])
def test_text_estimate_ranges(text: str, low: int, high: int) -> None:
    assert low <= tokens.estimate_text(text) <= high


@pytest.mark.parametrize("fmt", [_png, _jpeg])
def test_image_dimensions_from_header(fmt) -> None:
    assert tokens.image_size(fmt(640, 480)) == (640, 480)
    # 640*480/750 = 409
    assert tokens.estimate_image(ir.ImagePart("image/png", fmt(640, 480))) == 409


def test_large_image_is_capped_and_unknown_image_costs_the_default() -> None:
    assert tokens.estimate_image(ir.ImagePart("image/png", _png(4000, 3000))) == tokens.IMAGE_TOKENS_MAX
    assert tokens.estimate_image(ir.ImagePart(url="https://example.invalid/x.png")) == tokens.IMAGE_TOKENS_DEFAULT
    assert tokens.image_size("not base64!!") is None


def test_request_counts_system_tools_results_and_images() -> None:
    base = ir.Request("m", (ir.Message("user", (ir.TextPart("hi"),)),))
    schema = {"type": "object", "properties": {"command": {"type": "string", "description": "x" * 400}}}
    with_all = ir.Request(
        "m",
        (
            ir.Message("user", (ir.TextPart("hi"), ir.ImagePart("image/png", _png(200, 200)))),
            ir.Message("assistant", (ir.ToolCallPart("c1", "Bash", '{"command":"ls"}'),)),
            ir.Message("user", (ir.ToolResultPart("c1", (ir.TextPart("file\n" * 200),)),)),
        ),
        system=(ir.TextPart("You are a coding agent. " * 50),),
        tools=(ir.Tool("Bash", "Run a command", schema),),
    )
    b = tokens.estimate_breakdown(with_all)
    assert b["system"] > 200 and b["tools"] > 100 and b["tool_results"] > 200 and b["images"] == 53
    assert b["total"] > b["system"] + b["tools"] + b["tool_results"]
    assert tokens.estimate_request(with_all) > 5 * tokens.estimate_request(base)


def test_billing_header_is_stripped_and_other_system_text_kept() -> None:
    req = ir.Request("m", (), system=(
        ir.TextPart("x-anthropic-billing-header: cc_version=2.1.3; cc_entrypoint=cli; cch=abc123;"),
        ir.TextPart("You are Claude Code."),
        ir.TextPart("x-anthropic-billing-header: cch=1;\nKeep this line"),
    ))
    out = hygiene.strip_billing_header(req)
    assert [p.text for p in out.system] == ["You are Claude Code.", "Keep this line"]
    untouched = ir.Request("m", (), system=(ir.TextPart("plain"),))
    assert hygiene.strip_billing_header(untouched) is untouched


def test_estimate_cache_gives_the_same_numbers_and_stays_bounded() -> None:
    long_text = "def handler(event):\n    return {'ok': True}\n" * 100
    req = ir.Request("m", (ir.Message("user", (ir.TextPart(long_text),)),),
                     system=(ir.TextPart("system " * 500),))
    cache = tokens.EstimateCache(max_chars=10_000)
    assert tokens.estimate_request(req, cache) == tokens.estimate_request(req) == tokens.estimate_request(req, cache)
    for i in range(50):
        cache.text(f"{i} " + "x" * 1000)
    assert cache._chars <= 10_000
