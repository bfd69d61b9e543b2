"""How many records per second the recorder's writer sustains while the event loop is saturated.

    python bench/writer_capacity.py                     # 1,500 records/s offered for 10 s
    PYTHONPATH=/tmp/e-before/src python bench/writer_capacity.py    # another checkout's recorder

In one process: a "loop" thread runs pure Python without pause (the worst case of a saturated
event loop: it gives the GIL up only when the interpreter forces a switch) and hands the
recorder one benchmark-sized streamed exchange (22 chunks, the request, the folded answer) at
the offered rate; the recorder writes to a scratch SQLite file. Reported: records offered,
written while offering, written in total after a drain, dropped. No network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
from lingma_proxy import ir  # noqa: E402
from lingma_proxy.exchange import Exchange  # noqa: E402
from lingma_proxy.storage.recorder import Recorder  # noqa: E402

WORDS = ("The failing test was an off-by-one in parse_range: the upper bound was exclusive. "
         "I fixed it and the whole suite passes now.").split()
CHUNKS = [b"data: " + orjson.dumps({"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1,
                                    "model": "bench-model", "choices": [{"index": 0, "delta": {"content": w + " "},
                                                                         "finish_reason": None}]}) + b"\n\n"
          for w in WORDS] + [b"data: [DONE]\n\n"]
BODY = load.chat_body(True)


def exchange(i: int) -> Exchange:
    ex = Exchange(id=f"x{i}", started=time.time(), dialect="openai_chat", path="/v1/chat/completions",
                  stream=True, status=200, latency_ms=3.0, ttfb_ms=1.0, request_body=BODY)
    for c in CHUNKS:
        ex.capture(c)
    ex.response = ir.Response("r1", "bench-model", (ir.TextPart(" ".join(WORDS)),), "end_turn", None, ir.Usage(9, 4))
    ex.usage = ex.response.usage
    return ex


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=1500.0, help="records offered per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lingma-writer-") as tmp:
        rec = Recorder(Path(tmp) / "proxy.db")
        offered = 0
        stop = time.perf_counter() + args.seconds
        interval = 1.0 / args.rate

        def loop() -> None:
            nonlocal offered
            t0 = time.perf_counter()
            x = 0
            while True:
                now = time.perf_counter()
                if now >= stop:
                    return
                due = int((now - t0) / interval)
                while offered < due:
                    rec(exchange(offered))
                    offered += 1
                for k in range(200):  # busy Python work between arrivals: the loop never idles
                    x += k * k

        t = threading.Thread(target=loop)
        t.start()
        t.join()
        during = rec.written
        t_drain = time.perf_counter()
        while rec.written + rec.dropped + rec.failures < offered and time.perf_counter() - t_drain < 60:
            time.sleep(0.05)
        drain = time.perf_counter() - t_drain
        rec.close()
        # "written" grows by whole batches, so the count while offering lags the work done
        print(orjson.dumps({"offered": offered, "written_while_offering": during, "written": rec.written,
                            "dropped": rec.dropped, "drain_s": round(drain, 2),
                            "peak_queued": getattr(rec, "peak_queued", None)}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
