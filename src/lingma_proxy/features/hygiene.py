"""Prompt hygiene for non-Anthropic upstreams.

Claude Code's first system block is ``x-anthropic-billing-header: cc_version=...; cch=<nonce>``.
It changes on every request, so a local server's prefix (KV) cache can never match past it:
every turn re-processes the whole 20k+ token prompt. It means nothing to any other upstream,
so it is removed before the request leaves for one.
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir

BILLING_PREFIX = "x-anthropic-billing-header:"


def _strip_billing(text: str) -> str | None:
    """The text without billing-header lines; None when nothing else is left."""
    if BILLING_PREFIX not in text:
        return text
    kept = [ln for ln in text.split("\n") if not ln.lstrip().startswith(BILLING_PREFIX)]
    rest = "\n".join(kept).strip("\n")
    return rest or None


def strip_billing_header(req: ir.Request) -> ir.Request:
    """``req`` without Claude Code's per-request billing line (system blocks only)."""
    if not any(BILLING_PREFIX in p.text for p in req.system):
        return req
    system: list[ir.TextPart] = []
    for p in req.system:
        text = _strip_billing(p.text)
        if text is not None:
            system.append(p if text == p.text else ir.TextPart(text))
    return replace(req, system=tuple(system))
