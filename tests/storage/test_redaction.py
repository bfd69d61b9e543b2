"""The secret registry on its own: what counts as a secret, every spelling erased, thread safety,
the log scrubber, and the storage writers (sanitizer, traces, bundle) sharing one registry."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import zipfile
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings, strategies as st

from lingma_proxy.config import BackendConfig, Settings
from lingma_proxy.exchange import Exchange
from lingma_proxy.redaction import MIN_LENGTH, REDACTED, LogScrubber, SecretRegistry, url_secrets
from lingma_proxy.storage import bundle, trace_format
from lingma_proxy.storage.sanitize import Sanitizer

KEY = "k3y-Secr3t+/=~0123456789"
secret_text = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
                      min_size=MIN_LENGTH, max_size=40).filter(lambda s: s == s.strip())
context = st.text(max_size=60)


def _b64_in_context(secret: str, prefix: bytes, suffix: bytes) -> str:
    return base64.b64encode(prefix + secret.encode() + suffix).decode()


@settings(max_examples=300, deadline=None)
@given(secret=secret_text, before=context, after=context)
def test_a_secret_is_erased_wherever_it_sits(secret: str, before: str, after: str) -> None:
    reg = SecretRegistry([secret])
    for text in (before + secret + after, (before + secret + after) * 20):  # short and long paths
        out = reg.scrub_text(text)
        assert secret not in out and REDACTED in out
        assert secret.encode() not in reg.scrub_bytes(text.encode())
        assert reg.contains(text)


@settings(max_examples=300, deadline=None)
@given(secret=secret_text, prefix=st.binary(max_size=5), suffix=st.binary(max_size=5))
def test_base64_of_a_secret_is_erased_at_every_alignment(secret: str, prefix: bytes, suffix: bytes) -> None:
    if len(secret.encode()) < MIN_LENGTH + 4:  # too short for a distinctive base64 core
        return
    reg = SecretRegistry([secret])
    for enc in (_b64_in_context(secret, prefix, suffix),
                base64.urlsafe_b64encode(prefix + secret.encode() + suffix).decode()):
        out = reg.scrub_text(enc)
        assert REDACTED in out
        # the characters made of the secret's bits alone (two spare at each end) are gone
        start, end = len(prefix) * 4 // 3 + 2, (len(prefix) + len(secret.encode())) * 4 // 3 - 2
        assert enc[start:end] not in out


@settings(max_examples=200, deadline=None)
@given(secret=secret_text)
def test_url_and_json_spellings_are_erased(secret: str) -> None:
    reg = SecretRegistry([secret])
    for form in (quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1],
                 json.dumps(secret, ensure_ascii=False)[1:-1]):
        assert form not in reg.scrub_text(f"x={form}&y=1")


@pytest.mark.parametrize("value", [None, "", "short", "   abc   ", "1234567"])
def test_short_and_empty_values_are_not_registered(value: str | None) -> None:
    reg = SecretRegistry([value])
    assert len(reg) == 0 and reg.scrub_text("a short text 1234567") == "a short text 1234567"


def test_add_reports_new_values_and_keeps_old_ones() -> None:
    reg = SecretRegistry(["first-secret-value"])
    assert reg.add("second-secret-value") is True
    assert reg.add("second-secret-value", None, "") is False
    assert reg.values() == ("first-secret-value", "second-secret-value") and reg.version == 2
    assert reg.scrub_text("first-secret-value second-secret-value") == f"{REDACTED} {REDACTED}"


def test_overlapping_secrets_leave_no_piece_behind() -> None:
    reg = SecretRegistry(["abcdefgh12", "abcdefgh1234567"])
    assert reg.scrub_text("xx abcdefgh1234567 yy abcdefgh12 zz") == f"xx {REDACTED} yy {REDACTED} zz"


def test_adding_while_other_threads_scrub() -> None:
    reg = SecretRegistry()
    values = [f"secret-number-{i:04d}-xyz" for i in range(200)]
    text = " ".join(values)
    errors: list[BaseException] = []

    def scrub() -> None:
        try:
            for _ in range(200):
                out = reg.scrub_text(text)
                known = reg.values()
                assert not any(v in out for v in known if v in known[: len(known)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scrub) for _ in range(4)]
    for t in threads:
        t.start()
    for v in values:
        reg.add(v)
    for t in threads:
        t.join()
    assert not errors
    assert not any(v in reg.scrub_text(text) for v in values)


def test_scrub_value_walks_json_and_error_scrubs_in_place() -> None:
    from lingma_proxy import errors

    reg = SecretRegistry([KEY])
    assert reg.scrub_value({"a": [KEY, {KEY: 1}], "b": 2}) == {"a": [REDACTED, {REDACTED: 1}], "b": 2}
    exc = errors.AuthenticationFailed(f"refused {KEY}")
    assert reg.scrub_error(exc) is exc and KEY not in exc.message and KEY not in str(exc)


# ----------------------------------------------------------------------------- what the settings hold


@pytest.mark.parametrize(("url", "expected"), [
    ("http://user:pa55word-xyz@proxy.lan:3128", ["pa55word-xyz"]),
    ("https://tok3n-abcdefgh@example.com/v1", ["tok3n-abcdefgh"]),
    ("https://example.com/v1?api_key=qu3ry-secret-1&model=x", ["qu3ry-secret-1"]),
    ("https://example.com/v1?max_tokens=100", []),
    ("http://127.0.0.1:1234/v1", []),
    ("http://[bad", []),
])
def test_url_secrets(url: str, expected: list[str]) -> None:
    assert url_secrets(url) == expected


def test_settings_secrets_cover_every_source() -> None:
    s = Settings(api_key="client-key-0001", admin_key="admin-key-0002", openai_api_key="openai-key-0003",
                 anthropic_api_key="anthropic-key-0004", remote_proxy_url="http://u:proxy-pass-0005@p.lan:8080",
                 backends=(BackendConfig("x", "openai", "http://h:entry-url-pass-0006@h/v1", "entry-key-0007",
                                         options={"token": "option-token-0008", "max_tokens": "4096",
                                                  "nested": {"client_secret": "nested-secret-0009"}}),))
    found = set(s.secrets())
    assert {"client-key-0001", "admin-key-0002", "openai-key-0003", "anthropic-key-0004", "proxy-pass-0005",
            "entry-url-pass-0006", "entry-key-0007", "option-token-0008", "nested-secret-0009"} <= found
    assert "4096" not in found
    shown = json.dumps(s.masked())
    assert not any(v in shown for v in found)


def test_secret_fields_are_the_schemas_secret_keys() -> None:
    from lingma_proxy.config import KEYS
    from lingma_proxy.config.settings import SECRET_FIELDS

    assert {k.name for k in KEYS if k.type == "secret"} == SECRET_FIELDS


# ----------------------------------------------------------------------------- logs


@pytest.mark.parametrize("logger_name", ["lingma_proxy", "lingma_proxy.relay", "lingma_proxy.storage", ""])
def test_log_scrubber_rewrites_records_before_other_handlers(logger_name: str, caplog: pytest.LogCaptureFixture) -> None:
    reg = SecretRegistry([KEY])
    scrubber = LogScrubber(reg).install(("", "lingma_proxy"))
    try:
        with caplog.at_level(logging.INFO):
            log = logging.getLogger(logger_name or None)
            log.warning("key %s and %r", KEY, {"k": KEY})
            try:
                raise ValueError(KEY)
            except ValueError:
                log.exception("failed with %s", KEY)
            log.info(KEY, stack_info=True)
        reg.add("learned-later-secret")
        logging.getLogger("lingma_proxy.remote").warning("now learned-later-secret")
    finally:
        scrubber.uninstall()
    assert KEY not in caplog.text and "learned-later-secret" not in caplog.text
    assert REDACTED in caplog.text and "ValueError: [REDACTED]" in caplog.text
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert scrubber not in logging.getLogger().handlers and scrubber not in logging.getLogger("lingma_proxy").handlers


# ----------------------------------------------------------------------------- storage writers share it


def test_sanitizer_sees_secrets_added_after_it_was_built() -> None:
    reg = SecretRegistry()
    s = Sanitizer(reg)
    reg.add(KEY)
    assert KEY not in s.text(f"quoted {KEY}") and s.secrets == (KEY,)
    body, _ = s.body(json.dumps({"messages": [{"content": f"k={quote(KEY, safe='')}"}]}).encode(), 10_000)
    assert body is not None and quote(KEY, safe="") not in body


def test_trace_files_scrub_the_registry_and_header_values() -> None:
    reg = SecretRegistry([KEY])
    ex = Exchange(id="t1", started=1.0, dialect="anthropic_messages", path="/v1/messages",
                  request_body=json.dumps({"messages": [{"role": "user", "content": f"b64 {base64.b64encode(KEY.encode()).decode()}"}]}).encode(),
                  request_headers={"x-note": KEY, "x-api-key": "client-own-key-123"}, query=f"k={KEY}")
    ex.status, ex.error, ex.response_body = 401, f"upstream refused {KEY}", json.dumps({"error": KEY}).encode()
    data = trace_format.build(ex, reg)
    for form in (KEY, quote(KEY, safe=""), base64.b64encode(KEY.encode()).decode()[:-4], "client-own-key-123"):
        assert form.encode() not in data


def test_feedback_bundle_erases_what_the_running_server_learned() -> None:
    reg = SecretRegistry(["lingma-cosy-key-learned-at-runtime"])
    settings: Any = Settings(admin_key="admin-key-for-bundle")
    data = bundle.build(settings, requests=[{"request": "uses lingma-cosy-key-learned-at-runtime"}],
                        logs=[{"message": "admin-key-for-bundle"}], secrets=reg)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        text = "".join(z.read(n).decode() for n in z.namelist())
    assert "lingma-cosy-key-learned-at-runtime" not in text and "admin-key-for-bundle" not in text


def test_http_backends_scrub_upstream_error_text_with_the_registry() -> None:
    """``UsesSecrets``: the composition root hands each backend the registry; what it learns
    later (a Lingma login) is scrubbed from their upstream error texts from then on."""
    from lingma_proxy import errors
    from lingma_proxy.backends.anthropic import AnthropicBackend
    from lingma_proxy.backends.base import UsesSecrets
    from lingma_proxy.backends.lingma.remote import RemoteBackend
    from lingma_proxy.backends.openai_compat import OpenAICompatBackend

    for backend in (AnthropicBackend("a"), OpenAICompatBackend("o", "http://127.0.0.1:9/v1"), RemoteBackend()):
        assert isinstance(backend, UsesSecrets)
        reg = SecretRegistry()
        backend.use_secrets(reg)
        backend.use_secrets(reg)  # a console restart hands it over again: no double work
        reg.add("learned-after-construction-1")
        err = backend._upstream.scrubbed(errors.UpstreamError("echo learned-after-construction-1 "
                                                              "https://u:pw-in-url@h.example/x"))
        assert "learned-after-construction-1" not in err.message and "pw-in-url" not in err.message
