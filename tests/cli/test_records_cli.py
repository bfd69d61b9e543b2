"""`lingma-proxy requests`, `stats` and `feedback-bundle` over a recording on disk."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from lingma_proxy.cli.main import cli
from lingma_proxy.storage import db
from storage.test_recording import row

SECRET = "sk-live-feedbackbundle0123456789"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    conn = db.connect(db.db_path(tmp_path))
    now = time.time()
    db.write_batch(conn, [
        row("aaaa1111", now - 30, model="qwen3-coder", tokens=(1200, 80)),
        row("bbbb2222", now - 20, model="llama3", status=502, tokens=(0, 0)),
        row("cccc3333", now - 10, model="qwen3-coder", tokens=(300, 20),
            body=orjson.dumps({"messages": [{"role": "user", "content": "hello there"}]}).decode()),
    ], [(now - 5, "warning", "lingma_proxy.relay", "upstream slow")])
    conn.close()
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_requests_lists_newest_first_and_filters(data_dir: Path) -> None:
    out = run("requests", "--data-dir", str(data_dir))
    assert out.index("cccc3333") < out.index("bbbb2222") < out.index("aaaa1111")
    out = run("requests", "--data-dir", str(data_dir), "--model", "llama3")
    assert "bbbb2222" in out and "aaaa1111" not in out
    lines = run("requests", "--data-dir", str(data_dir), "--limit", "2", "--json").splitlines()
    assert [orjson.loads(x)["id"] for x in lines] == ["cccc3333", "bbbb2222"]


def test_stats_sums_tokens_per_model(data_dir: Path) -> None:
    out = run("stats", "--data-dir", str(data_dir))
    assert "3 requests recorded" in out
    assert "qwen3-coder" in out and "1,500" in out and "100" in out


def test_missing_recording_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["requests", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "nothing recorded yet" in result.output


def test_feedback_bundle_has_everything_but_credentials(data_dir: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "out" / "bundle"
    out = run("feedback-bundle", str(out_path), "--data-dir", str(data_dir), "--note", f"it broke {SECRET}",
              env={"LINGMA_PROXY_OPENAI_API_KEY": SECRET, "LINGMA_PROXY_OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    assert "3 requests, 1 log lines" in out
    with zipfile.ZipFile(out_path.with_name("bundle.zip")) as z:
        names = set(z.namelist())
        assert names == {"manifest.json", "config.json", "versions.json", "requests.json", "logs.json",
                         "usage.json", "recording.json", "user-note.txt"}
        text = b"".join(z.read(n) for n in names)
        config = orjson.loads(z.read("config.json"))
        requests = orjson.loads(z.read("requests.json"))
    assert SECRET.encode() not in text
    assert config["values"]["openai_api_key"] == "sk-…6789"
    assert config["origins"]["openai_api_key"] == "env LINGMA_PROXY_OPENAI_API_KEY"
    assert "hello there" in requests[0]["request"]
