"""COSY signing: the reference document's worked example, byte for byte, and the header set."""

from __future__ import annotations

import pytest

from lingma_proxy.backends.lingma import remote_signing as rs

KEY = "EXAMPLE_COSY_KEY_BASE64=="
INFO = "EXAMPLE_ENCRYPT_USER_INFO_BASE64=="
DATE = "1777045062"
RID = "11111111-2222-4333-8444-555555555555"
PAYLOAD = ("eyJjb3N5VmVyc2lvbiI6IjIuMTEuMiIsImlkZVZlcnNpb24iOiIiLCJpbmZvIjoiRVhBTVBMRV9FTkNSWVBUX1VTRVJfSU5GT19CQVNF"
           "NjQ9PSIsInJlcXVlc3RJZCI6IjExMTExMTExLTIyMjItNDMzMy04NDQ0LTU1NTU1NTU1NTU1NSIsInZlcnNpb24iOiJ2MSJ9")


def test_payload_is_the_documented_base64() -> None:
    assert rs.payload_b64(INFO, RID, "2.11.2") == PAYLOAD


@pytest.mark.parametrize("path,body,md5", [
    ("/algo/api/v2/model/list", b"", "eff024ec542062722b724af776cb63ee"),
    ("/algo/api/v2/service/pro/sse/agent_chat_generation?FetchKeys=llm_model_result&AgentId=agent_common",
     b'{"stream":true}', "0ec4efdeb8c580970b3df243791e1ba4"),
])
def test_worked_example_signatures(path: str, body: bytes, md5: str) -> None:
    assert rs.signature(PAYLOAD, KEY, DATE, body, rs.signed_path(path)) == md5
    auth = rs.authorization(info=INFO, cosy_key=KEY, date=DATE, body=body, path=path, request_id=RID)
    assert auth == f"Bearer COSY.{PAYLOAD}.{md5}"


@pytest.mark.parametrize("path,signed", [
    ("/algo/api/v2/model/list", "/api/v2/model/list"),
    ("/algo/api/v2/service/pro/sse/agent_chat_generation?FetchKeys=x", "/api/v2/service/pro/sse/agent_chat_generation"),
    ("/api/v2/image/upload?request_id=1", "/api/v2/image/upload"),
    ("/algorithm/x", "/algorithm/x"),
])
def test_signed_path(path: str, signed: str) -> None:
    assert rs.signed_path(path) == signed


@pytest.mark.parametrize("machine,system,expected", [
    ("x86_64", "linux", "x86_64_linux"), ("aarch64", "linux", "arm64_linux"), ("arm64", "darwin", "arm64_darwin"),
    ("x86_64", "darwin", "x86_64_darwin"), ("AMD64", "win32", "x86_64_windows"), ("ARM64", "win32", "arm64_windows"),
    ("riscv64", "freebsd14", "riscv64_freebsd14"),
])
def test_machine_os(machine: str, system: str, expected: str) -> None:
    assert rs.machine_os(machine, system) == expected


def _headers(ident: rs.Identity) -> dict[str, str]:
    return rs.headers(cosy_key=KEY, encrypt_user_info=INFO, user_id="1000", machine_id="m" * 20, date=DATE,
                      body=b"", path=rs.MODEL_LIST_PATH, ident=ident, request_id=RID, os_name="x86_64_linux")


def test_main_identity_headers_are_the_reference_set() -> None:
    assert _headers(rs.MAIN) == {
        "Authorization": f"Bearer COSY.{PAYLOAD}.eff024ec542062722b724af776cb63ee",
        "Content-Type": "application/json", "Accept": "text/event-stream", "Cache-Control": "no-cache",
        "Appcode": "cosy", "Cosy-Date": DATE, "Cosy-Key": KEY, "Cosy-Machineid": "m" * 20, "Cosy-User": "1000",
        "Cosy-Clientip": "198.18.0.1", "Cosy-Clienttype": "2", "Cosy-Machineos": "x86_64_linux",
        "Cosy-Machinetoken": "", "Cosy-Machinetype": "", "Cosy-Version": "2.11.2", "Login-Version": "v2",
        "User-Agent": "lingma-proxy/remote", "Accept-Encoding": "gzip",
    }


def test_cli_identity_headers() -> None:
    h = _headers(rs.CLI)
    assert (h["Cosy-Clienttype"], h["Cosy-Machinetype"], h["Cosy-Business-Product"], h["Cosy-Business-Type"],
            h["Cosy-Scene"]) == ("5", "5", "cli", "agent", "assistant")


@pytest.mark.parametrize("name,expected", [("", rs.MAIN), ("main", rs.MAIN), ("CLI", rs.CLI), ("qoderclicn", rs.CLI)])
def test_identity_names(name: str, expected: rs.Identity) -> None:
    assert rs.identity(name) is expected


def test_unknown_identity_is_refused() -> None:
    with pytest.raises(ValueError, match="remote_identity must be one of main, cli"):
        rs.identity("browser")
