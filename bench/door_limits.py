"""What the door limits (dialects/limits.py) cost on Claude Code-sized bodies, in process.

For bodies of 200 KB to 1.7 MB (bench/claude_request.py): orjson.loads alone, the limits check
(``check_body``: one native orjson.dumps of the body wrapped in extra lists) and the numeric
field check, median of N runs each; then the slow path (a too-deep body: the Python walk that
names the path) for comparison. Prints a table; nothing here fails.

    .venv/bin/python bench/door_limits.py [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claude_request import build  # noqa: E402

from lingma_proxy import errors  # noqa: E402
from lingma_proxy.dialects import anthropic_messages, limits  # noqa: E402


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def too_deep(body: dict[str, Any]) -> None:
    try:
        limits.check_body(body)
    except errors.InvalidRequest:
        return
    raise AssertionError("the deep body passed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    print("| body | loads | check_body | check_numbers | check / loads | too deep (walk) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for target in (200_000, 600_000, 1_700_000):
        body = build(target)
        raw = orjson.dumps(body)
        decoded = orjson.loads(raw)
        loads = median_ms(lambda: orjson.loads(raw), args.runs)
        check = median_ms(lambda: limits.check_body(decoded), args.runs)
        numbers = median_ms(lambda: anthropic_messages.check_numbers(decoded), args.runs)
        deep = orjson.loads(raw)
        nested: Any = {}
        for _ in range(limits.MAX_DEPTH):
            nested = {"a": nested}
        deep["x_last"] = nested  # the last key: the walk visits the whole body first
        slow = median_ms(lambda: too_deep(deep), max(5, args.runs // 20))
        print(f"| {len(raw) / 1e6:.2f} MB | {loads:.3f} | {check:.3f} | {numbers:.4f} | "
              f"{check / loads:.0%} | {slow:.1f} |")


if __name__ == "__main__":
    main()
