"""export-auth and export-bundle (and the reference's --export-remote-auth / --export-server-bundle)."""

from __future__ import annotations

import json
import stat
import time
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakes.lingma_remote import Account
from isolation import isolate
from lingma_proxy.backends.lingma.remote_credentials import parse_credentials_file
from lingma_proxy.cli.export import rewrite_reference_flags
from lingma_proxy.cli.main import cli
from lingma_proxy.config import load_settings

from .remote_fixtures import make_cache, write_credentials

ACCOUNT = Account()
SECRETS = (ACCOUNT.cosy_key, ACCOUNT.encrypt_user_info, ACCOUNT.user_id, ACCOUNT.machine_id)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path, monkeypatch, ("LINGMA_", "QODERCN_"))


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("spelling", [
    ["export-auth", "{out}", "--remote-auth-file", "{src}"],
    ["--export-remote-auth", "{out}", "--remote-auth-file", "{src}"],
    ["-export-remote-auth={out}", "-remote-auth-file", "{src}", "--remote-auth-pick", "newest"],
])
def test_export_auth(tmp_path: Path, spelling: list[str]) -> None:
    src = write_credentials(tmp_path / "src.json", ACCOUNT, expire="4102444800000")
    out = tmp_path / "private" / "creds.json"
    code, output = invoke(*(a.format(out=out, src=src) for a in spelling))
    assert code == 0, output
    assert mode(out) == 0o600 and mode(out.parent) == 0o700
    cred = parse_credentials_file(out.read_bytes(), str(out))
    assert (cred.cosy_key, cred.user_id, cred.machine_id, cred.token_expire_ms) == (
        ACCOUNT.cosy_key, ACCOUNT.user_id, ACCOUNT.machine_id, 4102444800000)
    doc = json.loads(out.read_text())
    assert list(doc) == ["source", "token_expire_time", "auth"] and doc["token_expire_time"] == "4102444800000"
    assert output.splitlines() == [
        f"exported credentials: {out}", "credential source: test", "token expire at: 2100-01-01T00:00:00Z",
        "account: 100**********042 / 012*************************-ID",
        "keep the exported file private; it contains login secrets"]
    assert not any(s in output for s in SECRETS)


def test_export_warns_about_an_expired_login(tmp_path: Path) -> None:
    src = write_credentials(tmp_path / "src.json", ACCOUNT, expire=str(int(time.time()) - 10))
    code, output = invoke("export-auth", str(tmp_path / "o.json"), "--remote-auth-file", str(src))
    assert code == 0 and "warning: exported credential is already expired" in output


def test_export_without_a_login_fails_clearly(tmp_path: Path) -> None:
    code, output = invoke("export-auth", str(tmp_path / "o.json"))
    assert code == 1 and "no usable Lingma login found" in output and not (tmp_path / "o.json").exists()


@pytest.mark.skipif(find_spec("cryptography") is None, reason="the login cache needs cryptography")
def test_export_from_the_login_cache_with_a_pick_policy(tmp_path: Path) -> None:
    home = tmp_path / "home"
    older = Account(cosy_key="OLD", encrypt_user_info="OLD_INFO", user_id="3000000000000000",
                    machine_id="1111111111111111-old")
    make_cache(home / ".qodercn", older, mtime=time.time() - 500)
    make_cache(home / ".lingma", ACCOUNT, mtime=time.time())
    for pick, uid in (("auto", older.user_id), ("newest", ACCOUNT.user_id)):
        out = tmp_path / f"{pick}.json"
        code, output = invoke("export-auth", str(out), "--remote-auth-pick", pick)
        assert code == 0, output
        assert json.loads(out.read_text())["auth"]["user_id"] == uid
        assert f"credential source: {home}" in output


@pytest.mark.parametrize("port", [8095, 18095])
def test_export_bundle(tmp_path: Path, port: int) -> None:
    src = write_credentials(tmp_path / "src.json", ACCOUNT)
    code, output = invoke("--export-server-bundle", str(tmp_path / "out" / "bundle"), "--remote-auth-file",
                          str(src), "--port", str(port), "--remote-base-url", "https://tenant.rdc.aliyuncs.com")
    assert code == 0, output
    path = tmp_path / "out" / "bundle.zip"
    assert "exported server bundle: " + str(path) in output and mode(path) == 0o600
    assert not any(s in output for s in SECRETS)
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert sorted(infos) == ["Dockerfile", "README.txt", "credentials.json", "docker-compose.yml",
                                 "lingma-proxy.json"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos.values())
        assert stat.S_IMODE(infos["credentials.json"].external_attr >> 16) == 0o600
        assert stat.S_IMODE(infos["lingma-proxy.json"].external_attr >> 16) == 0o644
        zf.extractall(tmp_path / "server")
    server = tmp_path / "server"
    config = json.loads((server / "lingma-proxy.json").read_text())
    assert config["port"] == port and config["host"] == "0.0.0.0" and config["backend"] == "remote"
    assert config["remote_auth_file"] == "/credentials.json"
    assert config["remote_base_url"] == "https://tenant.rdc.aliyuncs.com"
    assert config["api_key"].startswith("lp-") and config["api_key"] in (server / "README.txt").read_text()
    compose = (server / "docker-compose.yml").read_text()
    assert f'- "{port}:{port}"' in compose and "./credentials.json:/credentials.json:ro" in compose
    assert f"EXPOSE {port}" in (server / "Dockerfile").read_text()
    assert parse_credentials_file((server / "credentials.json").read_bytes(), "c").cosy_key == ACCOUNT.cosy_key
    # the bundled config is one our own server accepts (listening on all interfaces, behind the key)
    raw = config | {"remote_auth_file": str(server / "credentials.json")}
    (server / "local.json").write_text(json.dumps(raw))
    settings = load_settings({"config": str(server / "local.json")}, {}, server, tmp_path / "home")
    assert (settings.host, settings.port, settings.backend, settings.api_key) == (
        "0.0.0.0", port, "remote", config["api_key"])
    assert settings.remote_fallback_models[0] == "kmodel"


@pytest.mark.parametrize("args,expected", [
    (["--export-remote-auth", "a.json", "--port", "1"], ["export-auth", "a.json", "--port", "1"]),
    (["serve", "--export-server-bundle=b"], ["export-bundle", "b"]),
    (["--port", "1"], ["--port", "1"]),
    (["export-auth", "x"], ["export-auth", "x"]),
])
def test_reference_flag_rewriting(args: list[str], expected: list[str]) -> None:
    assert rewrite_reference_flags(args) == expected
