"""The sans-I/O parts: envelope, model catalogue, base-URL hints and ranking, credential parsing."""

from __future__ import annotations

from typing import Any

import pytest

from lingma_proxy import errors
from lingma_proxy.backends.lingma import (
    remote_baseurl as rb,
    remote_credentials as rc,
    remote_errors as rerr,
    remote_models as rm,
)
from lingma_proxy.backends.lingma.remote_envelope import DONE, unwrap
from lingma_proxy.sse import SSEDecoder, SSEEvent

# ------------------------------------------------------------------ envelope

TOOL_ENVELOPE = ('{"body":"{\\"choices\\":[{\\"delta\\":{\\"tool_calls\\":[{\\"index\\":0,\\"id\\":\\"call_1\\",'
                 '\\"type\\":\\"function\\",\\"function\\":{\\"name\\":\\"read_file\\",\\"arguments\\":'
                 '\\"{\\\\\\"file_path\\\\\\":\\\\\\"/var/tmp/a.txt\\\\\\"}\\"}}]}}]}","statusCodeValue":200}')


@pytest.mark.parametrize("data,expected", [
    ('{"body":"{\\"choices\\":[{\\"delta\\":{\\"content\\":\\"Hi\\"}}]}","statusCodeValue":200}',
     '{"choices":[{"delta":{"content":"Hi"}}]}'),
    ("[DONE]", "[DONE]"),
    ('{"body":"[DONE]","statusCodeValue":200}', "[DONE]"),
    ('{"body":"","statusCodeValue":200}', None),
    ('{"firstTokenDuration":120}', None),
    ('{"body":{"choices":[]},"statusCodeValue":200}', '{"choices":[]}'),
    ("", None),
])
def test_unwrap(data: str, expected: str | None) -> None:
    got = unwrap(SSEEvent(data=data))
    assert (got.data if got is not None else None) == expected


def test_unwrap_tool_envelope_of_the_reference_fixture() -> None:
    got = unwrap(SSEEvent(data=TOOL_ENVELOPE))
    assert got is not None and '"file_path":"/var/tmp/a.txt"' in got.data.replace("\\", "")


def test_done_forms_and_keepalive_through_the_decoder() -> None:
    dec = SSEDecoder()
    raw = (b'data:{"body":"{\\"choices\\":[{\\"delta\\":{\\"content\\":\\"Hel\\"}}]}","statusCodeValue":200}\n\n'
           b": keep-alive\n\n"
           b'data: {"body":"{\\"choices\\":[{\\"delta\\":{\\"content\\":\\"lo\\"}}]}","statusCodeValue":200}\n\n'
           b"data:[DONE]\n\n")
    inner = [unwrap(e) for e in dec.feed(raw)]
    assert [i.data if i is not None else None for i in inner] == [
        '{"choices":[{"delta":{"content":"Hel"}}]}', None, '{"choices":[{"delta":{"content":"lo"}}]}', "[DONE]"]
    assert inner[-1] is DONE


@pytest.mark.parametrize("data,cls,retryable", [
    ('{"body":"","statusCodeValue":500}', errors.UpstreamError, True),
    ('{"body":"slow down","statusCodeValue":429}', errors.RateLimited, True),
    ('{"statusMessage":"User invalid","statusCodeValue":401}', errors.AuthenticationFailed, False),
    ('{"body":"bad","statusCodeValue":400}', errors.InvalidRequest, False),
])
def test_in_stream_status_is_an_error(data: str, cls: type, retryable: bool) -> None:
    with pytest.raises(errors.ProxyError) as ei:
        unwrap(SSEEvent(data=data))
    assert type(ei.value) is cls and ei.value.retryable is retryable
    assert "error inside the stream: status" in ei.value.message


@pytest.mark.parametrize("data", ["not json at all", "[1,2]", '{"body":42,"statusCodeValue":200}'])
def test_malformed_lines_are_errors(data: str) -> None:
    with pytest.raises(errors.UpstreamError, match="Lingma remote API sent"):
        unwrap(SSEEvent(data=data))


# ------------------------------------------------------------------ models

@pytest.mark.parametrize("name,key", [
    ("Kimi-K2.6", "kmodel"), ("kimi-k2.6", "kmodel"), ("MiniMax-M2.7", "mmodel"),
    ("Qwen3-Coder", "dashscope_qwen3_coder"), ("Qwen3.6-Plus", "dashscope_qmodel"),
    ("Qwen3-Max", "dashscope_qwen_max_latest"), ("Qwen3-Thinking", "dashscope_qwen_plus_20250428_thinking"),
    ("Auto", "org_auto"), ("auto", "org_auto"), ("kmodel", "kmodel"), ("something-else", "something-else"),
])
def test_display_names_map_to_keys(name: str, key: str) -> None:
    assert rm.normalize(name) == key


def test_the_accounts_own_display_names_win() -> None:
    known = [rm.RemoteModel("kmodel_v2", "Kimi-K2.6")]
    assert rm.normalize("KIMI-K2.6", known) == "kmodel_v2"


def test_parse_model_list() -> None:
    body = {"chat": [{"key": "kmodel", "display_name": "Kimi-K2.6", "model": "kmodel", "enable": True,
                      "is_vl": True, "max_input_tokens": 180000},
                     {"key": "dashscope_qwen_plus_20250428_thinking", "display_name": "Qwen3-Thinking"},
                     {"key": "kmodel", "display_name": "dup"}, {"nokey": 1}, "junk"],
            "inline": [{"key": "inline_small", "display_name": "", "enable": False}]}
    models = rm.parse_model_list(body)
    assert [(m.key, m.kind, m.enabled, m.is_vl, m.is_reasoning, m.max_input_tokens) for m in models] == [
        ("kmodel", "chat", True, True, False, 180000),
        ("dashscope_qwen_plus_20250428_thinking", "chat", True, False, True, None),
        ("inline_small", "inline", False, False, False, None)]
    infos = rm.model_infos(models, "remote")
    assert [(i.id, i.display_name, i.capabilities) for i in infos] == [
        ("kmodel", "Kimi-K2.6", ("tools", "vision")),
        ("dashscope_qwen_plus_20250428_thinking", "Qwen3-Thinking", ("tools", "reasoning")),
        ("inline_small", "inline_small", ())]


@pytest.mark.parametrize("body", [[], {"data": []}, "x", None, {"chat": "no"}])
def test_model_list_of_the_wrong_shape(body: Any) -> None:
    with pytest.raises(ValueError):
        rm.parse_model_list(body)


DEFAULT = ("kmodel", "mmodel", "dashscope_qwen3_coder", "dashscope_qmodel", "dashscope_qwen_max_latest",
           "dashscope_qwen_plus_20250428_thinking")


@pytest.mark.parametrize("primary,available,expected", [
    ("kmodel", ["kmodel", "mmodel", "dashscope_qwen3_coder", "org_auto"], ["kmodel", "mmodel", "dashscope_qwen3_coder"]),
    ("mmodel", DEFAULT, ["mmodel", "dashscope_qwen3_coder", "dashscope_qmodel", "dashscope_qwen_max_latest",
                         "dashscope_qwen_plus_20250428_thinking"]),
    ("org_auto", ["kmodel", "dashscope_qmodel"], ["org_auto", "kmodel", "dashscope_qmodel"]),
    ("dashscope_qwen_plus_20250428_thinking", DEFAULT, ["dashscope_qwen_plus_20250428_thinking"]),
    ("kmodel", None, ["kmodel"]),
])
def test_attempt_order(primary: str, available: list[str] | None, expected: list[str]) -> None:
    assert rm.attempt_models(primary, DEFAULT, available) == expected


def test_attempt_order_normalizes_display_names_in_the_list() -> None:
    assert rm.attempt_models("kmodel", ["Kimi-K2.6", "MiniMax-M2.7"], ["kmodel", "mmodel"]) == ["kmodel", "mmodel"]


# ------------------------------------------------------------------ base URL

RDC = "https://ai-lingma-example-cn-beijing.rdc.aliyuncs.com"


@pytest.mark.parametrize("text,expected", [
    (f"2026-05-01 INFO Update endpoint success. endpoint config: {RDC}", RDC),
    (f"[Marketplace] Using service url: {RDC}/marketplace/_apis/public/gallery", RDC),
    (f"GET endpoint={RDC}/algo/api/v2/model/list 200", RDC),
    (f"endpoint config: {RDC}\nDownload asset from: https://lingma-static.oss-cn-hangzhou.aliyuncs.com/x.zip", RDC),
    ("Download asset from: https://lingma-static.oss-cn-hangzhou.aliyuncs.com/x.zip", None),
    ("endpoint config: ttps://ai-lingma-example-cn-beijing.rdc.aliyuncs.com", RDC),
    ("endpoint config: ftp://lingma.alibabacloud.com/x", None),
    ("nothing here", None),
    ("old https://lingma-api.tongyi.aliyun.com/algo then https://lingma.alibabacloud.com/algo/api",
     "https://lingma.alibabacloud.com"),
])
def test_hint_from_text(text: str, expected: str | None) -> None:
    assert rb.from_text(text) == expected


def test_hint_from_json() -> None:
    doc = {"a": {"serviceBaseUrl": f"{RDC}/algo"}, "downloadUrl": "https://x.oss-cn-beijing.aliyuncs.com/lingma.zip",
           "list": [{"domain": "https://gateway.qoder.com.cn"}], "other": "https://lingma.alibabacloud.com",
           "remote_base_url": "http://127.0.0.1:9/none"}
    assert rb.from_json(doc) == [RDC, "https://gateway.qoder.com.cn"]


def test_rank() -> None:
    hints = ["https://lingma-api.tongyi.aliyun.com", "https://lingma.alibabacloud.com", RDC,
             "https://gateway.qoder.com.cn", "https://example.com", RDC]
    assert rb.rank(hints) == [RDC, "https://gateway.qoder.com.cn", "https://example.com",
                              "https://lingma.alibabacloud.com", "https://lingma-api.tongyi.aliyun.com"]
    assert rb.rank([RDC], "https://lingma.alibabacloud.com") == ["https://lingma.alibabacloud.com", RDC]
    assert rb.rank([]) == ["https://lingma.alibabacloud.com"]


# ------------------------------------------------------------------ credentials

AUTH = {"cosy_key": "ck-value", "encrypt_user_info": "info-value", "user_id": "1000000000000000",
        "machine_id": "01234567-89ab-4cde-8f01-23456789abcd"}


@pytest.mark.parametrize("expire,ms", [
    ("1777520000000", 1777520000000), (1777520000000, 1777520000000), ("1777520000", 1777520000000),
    (1777520000, 1777520000000), ("2026-04-30T03:33:20Z", 1777520000000), ("2026-04-30T11:33:20+08:00", 1777520000000),
    ("", 0), (None, 0), ("soon", 0), (True, 0), (-5, 0), ([], 0),
])
def test_expire_parsing_is_lenient(expire: Any, ms: int) -> None:
    assert rc.parse_expire(expire) == ms


def test_parse_reference_credentials_file() -> None:
    data = b'{"source":"/home/a/.lingma/cache/user","token_expire_time":"1777520000000","auth":' + (
        rc.orjson.dumps(AUTH)) + b"}"
    cred = rc.parse_credentials_file(data, "/tmp/c.json")
    assert (cred.cosy_key, cred.user_id, cred.token_expire_ms, cred.source) == (
        "ck-value", "1000000000000000", 1777520000000, "/home/a/.lingma/cache/user")
    assert "ck-value" not in repr(cred) and "info-value" not in repr(cred)
    assert rc.parse_credentials_file(rc.dump_credentials_file(cred), "x") == cred


def test_lingma2api_superset_and_numeric_uid() -> None:
    doc = {"schema_version": 1, "source": "", "token_expire_time": "2026-04-27T11:30:00+08:00",
           "auth": {**AUTH, "user_id": 1000000000000000}, "oauth": {"access_token": "pt-x"}}
    cred = rc.parse_credentials_file(rc.orjson.dumps(doc), "/tmp/c.json")
    assert cred.user_id == "1000000000000000" and cred.source == "/tmp/c.json" and cred.token_expire_ms > 0


@pytest.mark.parametrize("data,match", [
    (b"{", "not valid JSON"), (b"[]", "JSON object"),
    (b'{"auth":{"cosy_key":"a","user_id":"1"}}', "lacks encrypt_user_info, machine_id"),
])
def test_bad_credentials_files(data: bytes, match: str) -> None:
    with pytest.raises(rc.CredentialError, match=match):
        rc.parse_credentials_file(data, "/tmp/c.json")


@pytest.mark.parametrize("text,expected", [
    ("2026-05-06 info using machine id from file: abcdef1234567890abcdef", "abcdef1234567890abcdef"),
    ('{"machineId":"windows-machine-id-1234567890","other":true}', "windows-machine-id-1234567890"),
    ("machine id: short\nlater machine_id: 'aaaabbbbccccdddd1111', more", "aaaabbbbccccdddd1111"),
    ("machineId=0123456789abcdef0123 and machineId=ffffffffffffffff0000", "ffffffffffffffff0000"),
    ("nothing", None),
])
def test_machine_id_markers(text: str, expected: str | None) -> None:
    assert rc.machine_id_from_text(text) == expected


def test_mask() -> None:
    assert rc.mask("1000000000000042") == "100**********042"
    assert rc.mask("12345678") == "********"


def test_pkcs7() -> None:
    assert rc.pkcs7_unpad(b"abc" + bytes([13]) * 13) == b"abc"
    for bad in (b"", b"x" * 15, b"x" * 15 + b"\x00", b"x" * 14 + b"\x01\x02"):
        with pytest.raises(ValueError):
            rc.pkcs7_unpad(bad)


def test_error_mapping_never_shows_secrets() -> None:
    err = rerr.http_error(401, b'{"errorMessage":"bad key ck-secret-value"}', base="https://h", what="x",
                          secrets=("ck-secret-value",))
    assert isinstance(err, errors.AuthenticationFailed) and "ck-secret-value" not in err.message
    assert "bad key ***" in err.message and "log in to Lingma/QoderCN again" in err.message
