"""The one HTTP upstream layer on its own: scrub, body descriptions, timeouts on the first body
byte, the retry on a stale pooled connection, and error mapping through a backend's Faults."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from lingma_proxy import errors
from lingma_proxy.backends.http_upstream import HttpUpstream, Phase, Timeouts, describe_body, redact_urls


@pytest.mark.parametrize(("text", "expected"), [
    ("see https://user:pw@host.example:8443/v1/x?key=abc for more", "see https://host.example:8443/v1/x for more"),
    ("http://h/p?token=1 and http://u@h2/q#frag", "http://h/p and http://h2/q"),
    ("no url here", "no url here"),
    ("HTTPS://A:B@UPPER.example/Path?q=1", "https://upper.example/Path"),
    ('"url": "https://x.example/a?sig=1"', '"url": "https://x.example/a"'),
])
def test_redact_urls(text: str, expected: str) -> None:
    assert redact_urls(text) == expected


@pytest.mark.parametrize(("ctype", "body", "needles"), [
    ("text/html; charset=utf-8", b"<!DOCTYPE html><html><title>Oops</title><body>Bad gateway</body></html>",
     ("text/html", "Oops", "Bad gateway")),
    ("application/json", b"", ("an empty body", "application/json")),
    ("", b"   \n", ("an empty body", "no content type")),
    ("text/plain", b"\x00\x01garbage" + b"x" * 500, ("text/plain", "garbage", "...")),
])
def test_describe_body(ctype: str, body: bytes, needles: tuple[str, ...]) -> None:
    got = describe_body(ctype, body)
    assert all(n in got for n in needles), got
    assert "<" not in got.replace("'", "") and len(got) < 200


def test_scrub_replaces_own_secrets_then_applies_the_hook() -> None:
    up = HttpUpstream(lambda: None, Timeouts(), scrub=lambda t: t.upper(),
                      secrets=("sk-secret-1234", None, "ab"))
    assert up.scrub("key sk-secret-1234 and ab") == "KEY *** AND AB"  # too short to be a secret: kept
    err = up.scrubbed(errors.UpstreamError("got sk-secret-1234"))
    assert err.message == "GOT ***" and err.args == ("GOT ***",)


class _Faults:
    def http_error(self, status: int, body: bytes, resp: aiohttp.ClientResponse) -> errors.ProxyError:
        return errors.from_status(status, f"HTTP {status}: {body.decode()}")

    def unreachable(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        return errors.UpstreamUnavailable(f"unreachable: {type(exc).__name__}")

    def timed_out(self, phase: Phase, answered: bool) -> errors.ProxyError:
        return errors.UpstreamTimeout(f"{phase} answered={answered}")

    def dropped(self, exc: BaseException | None) -> errors.ProxyError:
        return errors.UpstreamError("dropped")


async def _serve(handler: object) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/x", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/x"


@pytest.mark.parametrize(("headers_late", "body_late", "phase", "answered"), [
    (0.0, 1.0, "first_byte", True),  # headers at once, body late: no answer
    (1.0, 0.0, "first_byte", False),
    (0.0, 0.0, None, None),
])
async def test_first_byte_timeout_covers_the_body(headers_late: float, body_late: float, phase: str | None,
                                                  answered: bool | None) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(headers_late)
        resp = web.StreamResponse()
        await resp.prepare(request)
        await asyncio.sleep(body_late)
        await resp.write(b"hello")
        await resp.write_eof()
        return resp

    runner, url = await _serve(handler)
    async with aiohttp.ClientSession() as session:
        up = HttpUpstream(lambda: session, Timeouts(first_byte=0.2))
        try:
            if phase is None:
                opened = await up.open(url, b"{}", {}, _Faults())
                assert opened.first == b"hello" and await opened.read_all(100) == b"hello"
                opened.release()
            else:
                with pytest.raises(errors.UpstreamTimeout, match=f"{phase} answered={answered}"):
                    await up.open(url, b"{}", {}, _Faults())
        finally:
            await runner.cleanup()


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
async def test_refused_status_goes_through_faults_and_scrub(status: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text="nope sk-secret-1234 https://u:p@h/x?k=1")

    runner, url = await _serve(handler)
    async with aiohttp.ClientSession() as session:
        up = HttpUpstream(lambda: session, Timeouts(), secrets=("sk-secret-1234",))
        try:
            with pytest.raises(errors.ProxyError) as info:
                await up.open(url, b"{}", {}, _Faults())
        finally:
            await runner.cleanup()
    assert type(info.value) is type(errors.from_status(status, ""))
    assert info.value.message == f"HTTP {status}: nope *** https://h/x"


async def test_accept_lets_any_status_through() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=500, text="<html>")

    runner, url = await _serve(handler)
    async with aiohttp.ClientSession() as session:
        up = HttpUpstream(lambda: session, Timeouts())
        try:
            opened = await up.open(url, b"{}", {}, _Faults(), accept=lambda s: True)
            assert opened.status == 500 and opened.first == b"<html>"
            opened.release()
        finally:
            await runner.cleanup()


async def test_refused_connection_is_unreachable() -> None:
    async with aiohttp.ClientSession() as session:
        up = HttpUpstream(lambda: session, Timeouts(connect=1))
        with pytest.raises(errors.UpstreamUnavailable, match="unreachable: ClientConnectorError"):
            await up.open("http://127.0.0.1:9/x", b"{}", {}, _Faults())
