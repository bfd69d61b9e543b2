"""The emulator verifies like the server: every request the Go reference sent verifies, tampered
ones do not; and what our backend sends matches the reference's requests header for header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.lingma_remote import Account, LingmaRemoteEmulator
from lingma_proxy import ir
from lingma_proxy.backends.lingma.remote import RemoteBackend

from .remote_fixtures import write_credentials

CAPTURES = Path("/work/shared/reference/captures")
CAPTURED_ACCOUNT = Account(cosy_key="x", encrypt_user_info="x", user_id="1", machine_id="abcdef0123456789")
pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason="reference captures not available")


def _records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CAPTURES / "upstream.jsonl").read_text().splitlines()]


async def _send(session: aiohttp.ClientSession, emu: LingmaRemoteEmulator, rec: dict[str, Any],
                body: bytes | None = None, **header_overrides: str) -> int:
    headers = {k: v for k, v in rec["headers"].items() if k not in ("Host", "Content-Length")}
    headers.update(header_overrides)
    url = emu.url + rec["path"] + (f"?{rec['query']}" if rec["query"] else "")
    data = rec["body_raw"].encode() if body is None else body
    async with session.request(rec["method"], url, data=data or None, headers=headers,
                               skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding")) as resp:
        await resp.read()
        return resp.status


async def test_every_captured_request_verifies() -> None:
    records = _records()
    assert len(records) == 61
    async with LingmaRemoteEmulator(accounts=(CAPTURED_ACCOUNT,), max_skew=None) as emu:
        async with aiohttp.ClientSession() as s:
            for rec in records:
                status = await _send(s, emu, rec)
                assert status == rec["reply"]["status"], (rec["seq"], emu.requests[-1].verified)
        assert all(r.verified == (True, "") for r in emu.requests)
        assert {r.model for r in emu.chats()} >= {"kmodel", "mmodel", "dashscope_qwen3_coder", "org_auto"}


@pytest.mark.parametrize("tamper,status,why", [
    ({"body": b'{"stream":false}'}, 401, "signature mismatch"),
    ({"Cosy-Date": "1795212325"}, 401, "signature mismatch"),
    ({"Cosy-Key": "y"}, 403, "User invalid"),
    ({"Cosy-User": "2"}, 403, "User invalid"),
    ({"Cosy-Machineid": "ffffffffffffffff"}, 403, "machine id"),
    ({"Appcode": "other"}, 401, "appcode"),
    ({"Cosy-Clienttype": "3"}, 401, "cosy-clienttype"),
    ({"Authorization": "Bearer abc"}, 401, "COSY bearer"),
    ({"Cosy-Version": "9.9.9"}, 401, "cosyVersion"),
])
async def test_tampered_requests_are_refused(tamper: dict[str, Any], status: int, why: str) -> None:
    rec = next(r for r in _records() if r["method"] == "POST")
    body = tamper.pop("body", None)
    async with LingmaRemoteEmulator(accounts=(CAPTURED_ACCOUNT,), max_skew=None) as emu:
        async with aiohttp.ClientSession() as s:
            assert await _send(s, emu, rec, body, **tamper) == status
        assert why in emu.requests[-1].verified[1]


async def test_stale_dates_are_refused_by_default() -> None:
    rec = _records()[0]
    async with LingmaRemoteEmulator(accounts=(CAPTURED_ACCOUNT,)) as emu:
        async with aiohttp.ClientSession() as s:
            rec = {**rec, "headers": {**rec["headers"], "Cosy-Date": "1000000000"}}
            assert await _send(s, emu, rec) == 401
        assert "skew" in emu.requests[-1].verified[1]


IGNORED = {"Host", "Content-Length", "Authorization", "Cosy-Date"}


async def test_backend_requests_match_the_reference_header_for_header(tmp_path: Path) -> None:
    creds = write_credentials(tmp_path / "creds.json", CAPTURED_ACCOUNT)
    records = _records()
    want_get = next(r for r in records if r["method"] == "GET")["headers"]
    want_post = next(r for r in records if r["method"] == "POST")["headers"]
    async with LingmaRemoteEmulator(accounts=(CAPTURED_ACCOUNT,)) as emu:
        backend = RemoteBackend(base_url=emu.url, auth_file=str(creds), env={}, home=tmp_path)
        try:
            await backend.list_models()
            req = ir.Request(model="kmodel", messages=(ir.Message("user", (ir.TextPart("Hi there"),)),))
            [ev async for ev in backend.stream(req)]
        finally:
            await backend.aclose()
        get, post = emu.requests
    for got, want in ((get, want_get), (post, want_post)):
        assert got.verified == (True, "")
        got_h = {k: v for k, v in got.headers.items() if k not in IGNORED}
        want_h = {k: v for k, v in want.items() if k not in IGNORED}
        got_h.pop("Cosy-Machineos"), want_h.pop("Cosy-Machineos")  # the platform's own
        assert got_h == want_h
        assert got.headers["Authorization"].startswith("Bearer COSY.")
    assert post.query == "FetchKeys=llm_model_result&AgentId=agent_common"

