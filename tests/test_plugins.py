"""A third-party backend plugin, installed the way a user would install one, served through.

A tiny package ``lingma-proxy-echo`` is written to a temp dir: one module with a backend that
echoes the last user message after a greeting, and a ``BackendType`` "echo" with one settings
key (``echo_greeting``: flag ``--echo-greeting``, env ``LINGMA_PROXY_ECHO_GREETING``), named by
an entry point in ``lingma_proxy.backends``. pip installs it (offline: a local directory, no
build isolation, no dependencies) into its own target directory; a ``lingma-proxy`` process with
that directory on ``PYTHONPATH`` finds it through importlib.metadata only, exactly as it finds
the built-ins. Nothing in lingma-proxy names "echo".
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

PYPROJECT = """\
[build-system]
requires = []
build-backend = "tiny_backend"
backend-path = ["."]

[project]
name = "lingma-proxy-echo"
version = "0.0.1"

[project.entry-points."lingma_proxy.backends"]
echo = "lp_echo:ECHO"
"""

# A PEP 517 build backend in the plugin's own tree (no setuptools/wheel needed, offline): it
# writes the wheel pip installs, with the entry point a real build backend would write.
BUILD_BACKEND = '''\
import base64, hashlib, zipfile

NAME, VERSION = "lingma_proxy_echo", "0.0.1"
DIST = f"{NAME}-{VERSION}.dist-info"
FILES = {
    "lp_echo.py": open("lp_echo.py", "rb").read(),
    f"{DIST}/METADATA": f"Metadata-Version: 2.1\\nName: lingma-proxy-echo\\nVersion: {VERSION}\\n".encode(),
    f"{DIST}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: tiny_backend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    f"{DIST}/entry_points.txt": b"[lingma_proxy.backends]\\necho = lp_echo:ECHO\\n",
}


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(f"{wheel_directory}/{name}", "w") as z:
        for path, data in FILES.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        z.writestr(f"{DIST}/RECORD", "\\n".join(record + [f"{DIST}/RECORD,,"]) + "\\n")
    return name
'''

MODULE = '''\
"""The echo backend: the last user message, after the configured greeting."""

from lingma_proxy import ir
from lingma_proxy.backends.base import BackendState, Capabilities
from lingma_proxy.backends.registration import BackendType
from lingma_proxy.keys import Key


class EchoBackend:
    kind = "echo"
    capabilities = Capabilities(native_tools=False, images=False, reasoning=False)

    def __init__(self, name, greeting):
        self.name, self.greeting = name, greeting

    async def list_models(self):
        return [ir.ModelInfo(id="echo-1", backend=self.name, upstream_id="echo-1", owned_by="echo")]

    async def stream(self, request):
        last = next(m for m in reversed(request.messages) if m.role == "user")
        yield ir.MessageStart(id="echo", model=request.model)
        yield ir.BlockStart(0, "text")
        for word in f"{self.greeting}: {last.text()}".split(" "):
            yield ir.TextDelta(0, word + " ")
        yield ir.BlockStop(0)
        yield ir.MessageDelta(stop_reason="end_turn", usage=ir.Usage(input_tokens=3, output_tokens=4))
        yield ir.MessageStop()

    async def state(self):
        return BackendState(self.name, self.kind, True, "echoing")

    async def aclose(self):
        pass


def _build(cfg, settings):
    return EchoBackend(cfg.name, settings.value("echo_greeting"))


ECHO = BackendType(
    "echo", _build, help="echoes the last user message",
    keys=(Key("echo_greeting", "str", ("LINGMA_PROXY_ECHO_GREETING",), "what the echo backend says first",
              default="echo says"),),
)
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin built and installed (pip, offline) into a directory of its own."""
    root = tmp_path_factory.mktemp("plugin")
    src, site = root / "src", root / "site"
    src.mkdir()
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "lp_echo.py").write_text(MODULE)
    (src / "tiny_backend.py").write_text(BUILD_BACKEND)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(site.glob("lingma_proxy_echo-*.dist-info/entry_points.txt"))
    return site


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGMA_PROXY_")}
    return {**env, "PYTHONPATH": str(site), "HOME": str(site.parent), **extra}


def _config(site: Path, *args: str, **env: str) -> dict[str, object]:
    done = subprocess.run([str(BIN / "lingma-proxy"), "config", "--json", *args], capture_output=True, text=True,
                          env=_env(site, **env), cwd=site.parent, timeout=60)
    assert done.returncode == 0, done.stderr
    doc: dict[str, object] = orjson.loads(done.stdout)
    return doc


def test_config_lists_the_plugins_key_with_its_default_flag_and_env(plugin_path: Path) -> None:
    default = _config(plugin_path)
    assert default["settings"]["extra"] == {"echo_greeting": "echo says"}  # type: ignore[index]
    assert default["origins"]["echo_greeting"] == "default"  # type: ignore[index]
    flagged = _config(plugin_path, "--backend", "echo", "--echo-greeting", "hi")
    assert flagged["settings"]["extra"] == {"echo_greeting": "hi"}  # type: ignore[index]
    assert flagged["origins"]["echo_greeting"] == "flag --echo-greeting"  # type: ignore[index]
    assert [b["type"] for b in flagged["settings"]["backends"]] == ["echo"]  # type: ignore[index]
    env = _config(plugin_path, LINGMA_PROXY_ECHO_GREETING="from env")
    assert env["origins"]["echo_greeting"] == "env LINGMA_PROXY_ECHO_GREETING"  # type: ignore[index]
    done = subprocess.run([str(BIN / "lingma-proxy"), "config"], capture_output=True, text=True,
                          env=_env(plugin_path), cwd=plugin_path.parent, timeout=60)
    assert "echo_greeting" in done.stdout and "echo says" in done.stdout  # the table too
    helped = subprocess.run([str(BIN / "lingma-proxy"), "serve", "--help"], capture_output=True, text=True,
                            env=_env(plugin_path), cwd=plugin_path.parent, timeout=60)
    assert "--echo-greeting" in helped.stdout


def test_without_the_plugin_echo_is_unknown(plugin_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGMA_PROXY_")}
    done = subprocess.run([str(BIN / "lingma-proxy"), "config", "--backend", "echo"], capture_output=True,
                          text=True, env={**env, "HOME": str(plugin_path.parent)}, cwd=plugin_path.parent,
                          timeout=60)
    assert done.returncode == 2 and "unknown backend 'echo'" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(plugin_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "lingma-proxy"), "serve", "--host", "127.0.0.1", "--port", str(port), "--backend", "echo",
         "--echo-greeting", "echo plugin here", "--no-record", "--trace=false"],
        env=_env(plugin_path), cwd=plugin_path.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"lingma-proxy serve did not come up: {out[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("text", ["hello there", "ünïcødé words", "one"])
def test_a_chat_client_is_served_through_the_plugin_backend(served: str, stream: bool, text: str) -> None:
    client = openai.OpenAI(base_url=served + "/v1", api_key="unused", max_retries=0, timeout=10)
    messages = [{"role": "user", "content": "ignored"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": text}]
    if stream:
        chunks = client.chat.completions.create(model="echo-1", messages=messages, stream=True)  # type: ignore[arg-type]
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        done = client.chat.completions.create(model="echo-1", messages=messages)  # type: ignore[arg-type]
        answer = done.choices[0].message.content or ""
        assert done.choices[0].finish_reason == "stop" and done.usage and done.usage.completion_tokens == 4
    assert answer.strip() == f"echo plugin here: {text}"


def test_the_plugin_backend_is_listed_and_healthy(served: str) -> None:
    models = httpx.get(served + "/v1/models", timeout=5).json()
    assert [m["id"] for m in models["data"]] == ["echo-1"]
    health = httpx.get(served + "/health", timeout=5).json()
    assert textwrap.shorten(orjson.dumps(health).decode(), 10_000).count("echoing") >= 1
