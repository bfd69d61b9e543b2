"""Configuration: precedence and origins, file discovery, checks, backends/routes, masking."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from lingma_proxy.config import (
    DEFAULT_FALLBACK_MODELS,
    KEYS,
    BackendConfig,
    ConfigError,
    Route,
    Settings,
    load_settings,
    mask_secret,
    mask_url,
    read_config_file,
)

CWD = Path("/work/project")
HOME = Path("/home/me")
FILE = CWD / "lingma-proxy.json"
LEGACY = CWD / "lingma-ipc-proxy.json"
USER_FILE = HOME / ".config" / "lingma-proxy" / "config.json"
SECRET = "sk-live-0123456789abcdefSECRETxyz"


def load(
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    files: dict[Path, dict[str, Any]] | None = None,
) -> Settings:
    return load_settings(flags or {}, env or {}, CWD, HOME, read=(files or {}).get)


def error(**kw: Any) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load(**kw)
    return e.value


# ----------------------------------------------------------------------------- defaults


def test_defaults_match_the_settings_dataclass_and_every_origin_is_default() -> None:
    s = load()
    assert s == Settings(cwd=str(CWD))
    assert (s.host, s.port, s.backend, s.model, s.timeout, s.max_concurrent) == ("127.0.0.1", 8095, "auto", "", 0, 8)
    assert s.remote_fallback_models == DEFAULT_FALLBACK_MODELS and s.remote_version == "2.11.2"
    assert s.backends == () and s.routes == () and s.config_file == ""
    assert set(s.origins.values()) == {"default"}
    assert set(s.origins) == {f.name for f in dataclasses.fields(Settings)} - {"origins"}


def test_settings_is_frozen_and_hashable() -> None:
    s = load({"openai_base_url": "http://127.0.0.1:1234"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    assert hash(s) == hash(load({"openai_base_url": "http://127.0.0.1:1234"}))


# ----------------------------------------------------------------------------- precedence

# (field, file key and value, env name and value, flag value, expected per layer)
PRECEDENCE = [
    ("port", ("port", 9001), ("LINGMA_PROXY_PORT", "9002"), "9003", (9001, 9002, 9003)),
    ("model", ("model", "f"), ("LINGMA_PROXY_MODEL", "e"), "g", ("f", "e", "g")),
    ("timeout", ("timeout", 300), ("LINGMA_PROXY_TIMEOUT_SECONDS", "12.5"), "7", (300.0, 12.5, 7.0)),
    ("remote_fallback", ("remote_fallback_enabled", False), ("LINGMA_REMOTE_FALLBACK_ENABLED", "on"), False,
     (False, True, False)),
    ("ws_url", ("websocket_url", "ws://127.0.0.1:1"), ("LINGMA_PROXY_WS_URL", "ws://127.0.0.1:2/x"),
     "wss://h:3/", ("ws://127.0.0.1:1/", "ws://127.0.0.1:2/x", "wss://h:3/")),
    ("remote_fallback_models", ("remote_fallback_models", ["a", "b"]),
     ("LINGMA_REMOTE_FALLBACK_MODELS", "c, d,c"), "e", (("a", "b"), ("c", "d"), ("e",))),
]


@pytest.mark.parametrize("field,file,env,flag,expected", PRECEDENCE, ids=[p[0] for p in PRECEDENCE])
@pytest.mark.parametrize("layers", ["f", "e", "l", "fe", "fl", "el", "fel"])
def test_precedence_default_file_env_flag(field: str, file: Any, env: Any, flag: Any, expected: Any,
                                           layers: str) -> None:
    s = load(
        flags={field: flag} if "l" in layers else {},
        env=dict([env]) if "e" in layers else {},
        files={FILE: dict([file])} if "f" in layers else {},
    )
    top = layers[-1]
    want_value = expected["fel".index(top)]
    want_origin = {"f": str(FILE), "e": f"env {env[0]}", "l": f"flag --{field.replace('_', '-')}"}[top]
    assert (getattr(s, field), s.origins[field]) == (want_value, want_origin)


def test_origins_record_each_layer_independently() -> None:
    s = load(flags={"port": "1"}, env={"LINGMA_PROXY_HOST": "localhost"}, files={FILE: {"model": "m"}})
    assert {k: s.origins[k] for k in ("port", "host", "model", "timeout")} == {
        "port": "flag --port", "host": "env LINGMA_PROXY_HOST", "model": str(FILE), "timeout": "default"}
    assert s.config_file == str(FILE) and s.origins["config_file"] == "search"


@pytest.mark.parametrize("env,expected", [
    ({"LINGMA_PROXY_TIMEOUT": "1", "LINGMA_PROXY_TIMEOUT_SECONDS": "2"}, (1.0, "env LINGMA_PROXY_TIMEOUT")),
    ({"LINGMA_PROXY_TIMEOUT": "", "LINGMA_PROXY_TIMEOUT_SECONDS": "2"}, (2.0, "env LINGMA_PROXY_TIMEOUT_SECONDS")),
    ({"LINGMA_PROXY_TIMEOUT": "  "}, (0, "default")),
])
def test_first_set_env_name_wins_and_empty_env_is_unset(env: dict[str, str], expected: tuple[Any, str]) -> None:
    s = load(env=env)
    assert (s.timeout, s.origins["timeout"]) == expected


def test_empty_strings_and_null_in_the_file_mean_unset() -> None:
    s = load(files={FILE: {"backend": "", "model": None, "remote_version": "", "session_mode": "", "api_key": None}},
             env={"LINGMA_PROXY_MODEL": "from-env"})
    assert (s.backend, s.model, s.remote_version, s.session_mode, s.api_key) == ("auto", "from-env", "2.11.2", "auto", None)
    assert s.origins["backend"] == "default"


def test_file_annotations_are_ignored() -> None:
    s = load(files={FILE: {"$schema": "x", "_comment": "mine", "port": 1234}})
    assert s.port == 1234


# ----------------------------------------------------------------------------- file locations


@pytest.mark.parametrize("present,chosen", [
    ([FILE, LEGACY, USER_FILE], FILE),
    ([LEGACY, USER_FILE], LEGACY),
    ([USER_FILE], USER_FILE),
])
def test_search_takes_the_first_existing_file(present: list[Path], chosen: Path) -> None:
    files = {p: {"model": p.name} for p in present}
    s = load(files=files)
    assert (s.config_file, s.model, s.origins["model"]) == (str(chosen), chosen.name, str(chosen))


def test_flag_config_beats_env_config_beats_search() -> None:
    files = {FILE: {"port": 1}, Path("/etc/a.json"): {"port": 2}, CWD / "b.json": {"port": 3}}
    s = load(env={"LINGMA_PROXY_CONFIG": "/etc/a.json"}, files=files)
    assert (s.port, s.config_file, s.origins["config_file"]) == (2, "/etc/a.json", "env LINGMA_PROXY_CONFIG")
    s = load(flags={"config": "b.json"}, env={"LINGMA_PROXY_CONFIG": "/etc/a.json"}, files=files)
    assert (s.port, s.config_file, s.origins["config_file"]) == (3, str(CWD / "b.json"), "flag --config")


def test_config_path_expands_home() -> None:
    s = load(flags={"config": "~/cfg.json"}, files={HOME / "cfg.json": {"port": 7}})
    assert s.port == 7


@pytest.mark.parametrize("flags,env,source", [
    ({"config": "/nope.json"}, {}, "flag --config"),
    ({}, {"LINGMA_PROXY_CONFIG": "/nope.json"}, "env LINGMA_PROXY_CONFIG"),
])
def test_an_explicit_config_file_must_exist(flags: dict[str, Any], env: dict[str, str], source: str) -> None:
    e = error(flags=flags, env=env, files={FILE: {}})
    assert str(e) == f"config file /nope.json (from {source}) does not exist"


def test_real_files_in_every_location(tmp_path: Path) -> None:
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    (home / ".config" / "lingma-proxy").mkdir(parents=True)
    cwd.mkdir()
    (home / ".config" / "lingma-proxy" / "config.json").write_text('{"port": 1001}')
    assert load_settings({}, {}, cwd, home).port == 1001
    (cwd / "lingma-ipc-proxy.json").write_text('{"port": 1002}')
    assert load_settings({}, {}, cwd, home).port == 1002
    (cwd / "lingma-proxy.json").write_text('{"port": 1003}')
    assert load_settings({}, {}, cwd, home).port == 1003
    (tmp_path / "x.json").write_text('{"port": 1004}')
    assert load_settings({}, {"LINGMA_PROXY_CONFIG": str(tmp_path / "x.json")}, cwd, home).port == 1004


REFERENCE_FILE = {  # the shape the Go reference's config.example.json and desktop app write
    "host": "127.0.0.1", "port": 8095, "backend": "ipc", "transport": "ws", "pipe": "",
    "websocket_url": "ws://127.0.0.1:36510", "remote_base_url": "", "remote_auth_file": "",
    "remote_version": "", "remote_proxy_url": "", "cwd": "C:\\Users\\me\\project", "current_file_path": "",
    "mode": "chat", "model": "kmodel", "shell_type": "powershell", "session_mode": "auto", "timeout": 300,
    "remote_fallback_enabled": True, "remote_fallback_models": ["kmodel", "mmodel"], "warmup_timeout": 30,
}


def test_a_legacy_reference_config_file_loads_unchanged() -> None:
    s = load(files={LEGACY: REFERENCE_FILE})
    assert (s.backend, s.transport, s.ws_url, s.mode, s.model, s.timeout) == (
        "ipc", "websocket", "ws://127.0.0.1:36510/", "chat", "kmodel", 300.0)
    assert (s.cwd, s.shell_type, s.remote_fallback, s.remote_fallback_models) == (
        "C:\\Users\\me\\project", "powershell", True, ("kmodel", "mmodel"))
    assert s.remote_version == "2.11.2" and s.origins["ws_url"] == str(LEGACY)
    assert s.backends == (BackendConfig("ipc", "ipc", "ws://127.0.0.1:36510/"),)


def test_alias_and_canonical_key_together_is_an_error() -> None:
    e = error(files={FILE: {"ws_url": "ws://a", "websocket_url": "ws://b"}})
    assert "websocket_url and ws_url mean the same setting" in str(e)


def test_read_config_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"port": 1,\n "host": }')
    with pytest.raises(ConfigError, match=r"bad.json is not valid JSON: .*\(line 2, column \d+\)"):
        read_config_file(bad)
    arr = tmp_path / "arr.json"
    arr.write_text("[1]")
    with pytest.raises(ConfigError, match="must contain a JSON object, not a list"):
        read_config_file(arr)
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(tmp_path)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"port": 5}')
    assert read_config_file(bom) == {"port": 5}


# ----------------------------------------------------------------------------- LM Studio env


def test_lmstudio_env_configures_the_openai_backend() -> None:
    s = load(env={"LMSTUDIO_URL": "http://localhost:1234", "LMSTUDIO_API_KEY": "lm-studio"})
    assert (s.openai_base_url, s.origins["openai_base_url"]) == ("http://localhost:1234/v1", "env LMSTUDIO_URL")
    assert s.openai_api_key == "lm-studio" and s.origins["openai_api_key"] == "env LMSTUDIO_API_KEY"
    assert s.backends == (BackendConfig("openai", "openai", "http://localhost:1234/v1", "lm-studio"),)
    assert s.backend == "auto" and s.origins["backends"] == "derived"


def test_lingma_proxy_env_beats_lmstudio_env() -> None:
    s = load(env={"LMSTUDIO_URL": "http://a:1", "LINGMA_PROXY_OPENAI_BASE_URL": "http://b:2/api/v1/"})
    assert s.openai_base_url == "http://b:2/api/v1"


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("files,message", [
    ({FILE: {"prot": 8095}}, f"unknown configuration key 'prot' (in {FILE}); did you mean 'port'?"),
    ({FILE: {"websocket": "ws://x"}}, f"unknown configuration key 'websocket' (in {FILE}); did you mean 'websocket_url'?"),
    ({FILE: {"routing": []}}, f"unknown configuration key 'routing' (in {FILE}); did you mean 'routes'?"),
    ({FILE: {"zzzz": 1}}, f"unknown configuration key 'zzzz' (in {FILE})"),
])
def test_unknown_keys_are_named_with_a_suggestion(files: Any, message: str) -> None:
    e = error(files=files)
    assert str(e) == message and e.key == next(iter(next(iter(files.values()))))


def test_unknown_flag_key() -> None:
    assert "did you mean 'max_concurrent'" in str(error(flags={"max_concurent": "3"}))


WRONG = [
    ({"port": "8095"}, 'port must be an integer, not a string, got "8095"'),
    ({"port": True}, "port must be an integer, not a boolean, got true"),
    ({"port": 80.5}, "port must be an integer, got 80.5"),
    ({"timeout": "300"}, 'timeout must be a number, not a string, got "300"'),
    ({"record": "yes"}, 'record must be true or false, not a string, got "yes"'),
    ({"host": 5}, "host must be a string, not a number, got 5"),
    ({"remote_fallback_models": [1]}, "remote_fallback_models must be a list of strings or a comma-separated string"),
    ({"remote_fallback_enabled": "true"}, 'remote_fallback_enabled must be true or false, not a string, got "true"'),
    ({"port": 70000}, "port must be between 1 and 65535, got 70000"),
    ({"port": 0}, "port must be between 1 and 65535, got 0"),
    ({"max_concurrent": 257}, "max_concurrent must be between 1 and 256, got 257"),
    ({"timeout": -1}, "timeout must be >= 0, got -1"),
    ({"connect_timeout": 0}, "connect_timeout must be >= 0.001, got 0"),
    ({"transport": "tcp"}, 'transport must be one of auto, pipe, websocket, got "tcp"'),
    ({"session_mode": "sticky"}, 'session_mode must be one of auto, fresh, reuse, got "sticky"'),
    ({"tool_mode": "x"}, 'tool_mode must be one of auto, native, emulate, got "x"'),
    ({"context_overflow": "drop"}, 'context_overflow must be one of error, truncate, got "drop"'),
    ({"log_level": "loud"}, 'log_level must be one of debug, info, warning, error, critical, got "loud"'),
    ({"host": "http://0.0.0.0"}, "host must be a host name or IP address, got 'http://0.0.0.0'"),
    ({"openai_base_url": "ftp://x"}, "openai_base_url must be a URL starting with http:// or https:// and naming a host, got 'ftp://x'"),
    ({"openai_base_url": "localhost:1234"}, "openai_base_url must be a URL starting with http:// or https:// and naming a host"),
    ({"openai_base_url": "http://h:99999"}, "openai_base_url is not a valid URL (port out of range 0-65535)"),
    ({"websocket_url": "http://127.0.0.1:1"}, "websocket_url must be a URL starting with ws:// or wss:// and naming a host"),
    ({"remote_proxy_url": "ftp://u:pw@h"}, "remote_proxy_url must be a URL starting with http://, https:// or socks5:// and naming a host, got 'ftp://h'"),
    ({"api_key": 12345}, "api_key must be a string, not a number"),
]


@pytest.mark.parametrize("data,message", WRONG, ids=[str(w[0]) for w in WRONG])
def test_wrong_types_and_bad_values_name_key_and_source(data: dict[str, Any], message: str) -> None:
    e = error(files={FILE: data})
    assert str(e).startswith(message) and str(e).endswith(f"(from {FILE})")
    assert e.key == next(iter(data)) and e.source == str(FILE)


@pytest.mark.parametrize("env,message", [
    ({"LINGMA_PROXY_PORT": "abc"}, "port must be an integer, got abc (from env LINGMA_PROXY_PORT)"),
    ({"LINGMA_PROXY_MAX_CONCURRENT": "0"}, "max_concurrent must be between 1 and 256, got 0 (from env LINGMA_PROXY_MAX_CONCURRENT)"),
    ({"LINGMA_PROXY_RECORD": "maybe"}, "record must be one of 1/true/yes/on or 0/false/no/off, got maybe (from env LINGMA_PROXY_RECORD)"),
    ({"LINGMA_PROXY_TIMEOUT": "nan"}, "timeout must be a finite number, got nan (from env LINGMA_PROXY_TIMEOUT)"),
    ({"LMSTUDIO_URL": "1234"}, "openai_base_url must be a URL starting with http:// or https:// and naming a host, got '1234' (from env LMSTUDIO_URL)"),
])
def test_env_errors(env: dict[str, str], message: str) -> None:
    assert str(error(env=env)) == message


def test_flag_errors_name_the_flag() -> None:
    assert str(error(flags={"port": "70000"})) == "port must be between 1 and 65535, got 70000 (from flag --port)"


def test_a_bad_value_is_reported_even_when_a_higher_layer_overrides_it() -> None:
    assert "from " + str(FILE) in str(error(files={FILE: {"port": 0}}, flags={"port": "1"}))


def test_secret_values_never_appear_in_errors() -> None:
    e = error(files={FILE: {"api_key": ["secret-list"]}})
    assert "secret-list" not in str(e)
    e = error(files={FILE: {"remote_proxy_url": "ftp://user:hunter2@proxy"}})
    assert "hunter2" not in str(e)


# ----------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("data,field,value", [
    ({"transport": "WS"}, "transport", "websocket"),
    ({"log_level": "WARN"}, "log_level", "warning"),
    ({"backend": "Remote"}, "backend", "remote"),
    ({"remote_fallback_models": " a, b ,a,, "}, "remote_fallback_models", ("a", "b")),
    ({"openai_base_url": "http://h:1/"}, "openai_base_url", "http://h:1/v1"),
    ({"openai_base_url": "http://h:1/api/v1/"}, "openai_base_url", "http://h:1/api/v1"),
    ({"anthropic_base_url": "https://a.example/"}, "anthropic_base_url", "https://a.example"),
    ({"websocket_url": "wss://h:1"}, "ws_url", "wss://h:1/"),
    ({"data_dir": "~/data"}, "data_dir", str(HOME / "data")),
    ({"remote_auth_file": "~/creds.json"}, "remote_auth_file", str(HOME / "creds.json")),
    ({"max_body_bytes": 2048.0}, "max_body_bytes", 2048),
    ({"trace": False}, "trace", False),
])
def test_normalisation(data: dict[str, Any], field: str, value: Any) -> None:
    assert getattr(load(files={FILE: data}), field) == value


def test_cwd_defaults_to_the_working_directory() -> None:
    assert load().cwd == str(CWD)
    assert load(env={"LINGMA_PROXY_CWD": "/x"}).cwd == "/x"


# ----------------------------------------------------------------------------- backends and routes


def test_simple_openai_case_yields_one_backend() -> None:
    s = load(flags={"backend": "openai", "openai_base_url": "http://127.0.0.1:1234/v1", "openai_api_key": "k"})
    assert s.backend == "openai" and s.routes == ()
    assert s.backends == (BackendConfig("openai", "openai", "http://127.0.0.1:1234/v1", "k", ""),)


def test_openai_backend_without_url_is_an_error() -> None:
    e = error(flags={"backend": "openai"})
    assert e.key == "openai_base_url" and "LMSTUDIO_URL" in str(e) and "flag --backend" in str(e)


@pytest.mark.parametrize("flags,names", [
    ({"backend": "anthropic"}, ["anthropic"]),
    ({"anthropic_api_key": "sk-ant"}, ["anthropic"]),
    ({"backend": "remote"}, ["remote"]),
    ({"backend": "ipc", "openai_base_url": "http://h:1"}, ["openai", "ipc"]),
    ({}, []),
])
def test_builtin_backends_implied(flags: dict[str, Any], names: list[str]) -> None:
    assert [b.name for b in load(flags=flags).backends] == names


def test_anthropic_implied_backend_uses_the_global_settings() -> None:
    s = load(flags={"backend": "anthropic", "anthropic_api_key": "sk-ant", "anthropic_base_url": "https://a.example"})
    assert s.backends == (BackendConfig("anthropic", "anthropic", "https://a.example", "sk-ant"),)


MULTI = {
    "backend": "lmstudio",
    "model": "qwen3-coder-30b",
    "backends": [
        {"name": "lmstudio", "type": "openai", "base_url": "http://127.0.0.1:1234/v1"},
        {"name": "ollama", "type": "openai", "base_url": "http://127.0.0.1:11434", "model": "qwen3:8b",
         "options": {"num_ctx": 32768}},
    ],
    "routes": [
        {"pattern": "claude-haiku-*", "backend": "ollama", "model": "qwen3:8b"},
        {"pattern": "claude-*", "backend": "lmstudio"},
        {"pattern": "opus*", "backend": "remote", "model": None},
    ],
}


def test_named_backends_and_routes() -> None:
    s = load(files={FILE: MULTI})
    assert [(b.name, b.type, b.base_url, b.model, dict(b.options)) for b in s.backends] == [
        ("lmstudio", "openai", "http://127.0.0.1:1234/v1", "", {}),
        ("ollama", "openai", "http://127.0.0.1:11434/v1", "qwen3:8b", {"num_ctx": 32768}),
        ("remote", "remote", "", "", {}),
    ]
    assert s.routes == (
        Route("claude-haiku-*", "ollama", "qwen3:8b"), Route("claude-*", "lmstudio", None), Route("opus*", "remote", None))
    assert s.origins["backends"] == s.origins["routes"] == str(FILE)
    assert s.backend_named("ollama") is s.backends[1]


def test_backends_object_form_and_routes_shorthand() -> None:
    s = load(files={FILE: {
        "backends": {"openai": {"base_url": "http://h:1"}, "claude": {"type": "anthropic", "api_key": "sk-a"}},
        "routes": {"claude-*": "claude", "gpt-*": {"backend": "openai", "model": "qwen"}},
    }}, flags={"openai_base_url": "http://ignored:2"})
    assert s.backends == (
        BackendConfig("openai", "openai", "http://h:1/v1"),
        BackendConfig("claude", "anthropic", "https://api.anthropic.com", "sk-a"),
    )
    assert s.routes == (Route("claude-*", "claude"), Route("gpt-*", "openai", "qwen"))


def test_backend_flag_may_name_a_configured_backend() -> None:
    assert load(files={FILE: MULTI}, flags={"backend": "ollama"}).backend == "ollama"


@pytest.mark.parametrize("data,message", [
    ({"backend": "lmstudo", **{k: v for k, v in MULTI.items() if k != "backend"}},
     ("backend names an unknown backend 'lmstudo' (from {file}); expected one of auto, openai, anthropic, ipc, "
      "remote, lmstudio, ollama; did you mean 'lmstudio'?")),
    ({"routes": [{"pattern": "x", "backend": "nope"}]}, "routes[0].backend names an unknown backend 'nope'"),
    ({"routes": [{"pattern": "x", "backend": "openai"}]}, "the openai backend needs a server URL"),
    ({"routes": [{"pattern": "", "backend": "ipc"}]}, "routes[0].pattern is required"),
    ({"routes": [{"pattern": "x", "backend": "ipc", "modle": "m"}]},
     "routes[0].modle is not a known key; did you mean 'model'? (from {file})"),
    ({"routes": "claude-*"}, "routes must be a list"),
    ({"backends": [{"name": "a", "type": "openai", "base_ulr": "http://h"}]},
     "backends[0].base_ulr is not a known key; did you mean 'base_url'? (backend-specific settings go under 'options')"),
    ({"backends": [{"name": "a", "type": "gemini"}]}, "backends[0].type must be one of openai, anthropic, ipc, remote"),
    ({"backends": {"local": {"base_url": "http://h"}}}, "backends.local.type must be one of"),
    ({"backends": [{"name": "a", "type": "openai"}]}, "backends[0].base_url is required for an openai backend"),
    ({"backends": [{"name": "a", "type": "openai", "base_url": "h:1"}]}, "backends[0].base_url must be a URL starting with http://"),
    ({"backends": [{"name": "a b", "type": "ipc"}]}, "backends[0].name must be a name of letters"),
    ({"backends": [{"name": "auto", "type": "ipc"}]}, "backends[0].name must be a name of letters"),
    ({"backends": [{"name": "a", "type": "ipc"}, {"name": "a", "type": "remote"}]}, "backends[1].name 'a' is declared twice"),
    ({"backends": {"a": {"name": "b", "type": "ipc"}}}, "backends.a.name differs from its key 'a'"),
    ({"backends": [{"name": "a", "type": "ipc", "options": []}]}, "backends[0].options must be an object"),
    ({"backends": "lmstudio"}, "backends must be an object of name -> backend, or a list"),
])
def test_backend_and_route_errors(data: dict[str, Any], message: str) -> None:
    assert str(error(files={FILE: data})).startswith(message.format(file=FILE))


# ----------------------------------------------------------------------------- exposure


@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("myhost.lan", False),
])
def test_non_loopback_host_without_a_key_is_refused(host: str, ok: bool) -> None:
    if ok:
        assert load(flags={"host": host}).host == host
    else:
        e = error(flags={"host": host})
        assert e.key == "host" and f"refusing to listen on {host} (from flag --host) without an API key" in str(e)
        assert "--insecure-no-auth" in str(e)


@pytest.mark.parametrize("extra", [{"flags": {"api_key": "k"}}, {"flags": {"insecure_no_auth": True}},
                                    {"env": {"LINGMA_PROXY_INSECURE_NO_AUTH": "1"}}])
def test_non_loopback_host_allowed_with_a_key_or_explicit_opt_out(extra: dict[str, Any]) -> None:
    flags = {"host": "0.0.0.0", **extra.get("flags", {})}
    assert load(flags=flags, env=extra.get("env")).host == "0.0.0.0"


# ----------------------------------------------------------------------------- masking


@pytest.mark.parametrize("value,masked", [
    (None, None), ("", ""), ("short", "***"), ("sk-0123456789abcdefghij", "sk-…ghij"), (SECRET, "sk-…Txyz"),
])
def test_mask_secret(value: str | None, masked: str | None) -> None:
    assert mask_secret(value) == masked


@pytest.mark.parametrize("url,masked", [
    ("http://u:pw@proxy:8080/x?token=1", "http://u:***@proxy:8080/x"),
    ("http://token@h", "http://***@h"),
    ("socks5://h:1080", "socks5://h:1080"),
    ("", ""),
])
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_masked_settings_never_contain_a_secret() -> None:
    s = load(
        flags={"api_key": SECRET, "host": "0.0.0.0"},
        env={"LMSTUDIO_API_KEY": SECRET + "2", "LINGMA_PROXY_ANTHROPIC_API_KEY": "tiny",
             "LINGMA_REMOTE_PROXY_URL": "http://me:hunter2@proxy:3128"},
        files={FILE: {"backends": {"c": {"type": "anthropic", "api_key": SECRET + "3"}}}},
    )
    out = s.masked()
    text = orjson.dumps(out).decode()
    for secret in (SECRET, "tiny", "hunter2", "0123456789"):
        assert secret not in text
    assert out["api_key"] == "sk-…Txyz" and out["anthropic_api_key"] == "***"
    assert out["remote_proxy_url"] == "http://me:***@proxy:3128"
    assert out["backends"][0]["api_key"] == "sk-…xyz3"
    assert set(out) == {f.name for f in dataclasses.fields(Settings)} - {"origins"}
    assert SECRET not in repr(s)


# ----------------------------------------------------------------------------- docs


def test_docs_table_lists_every_key_flag_and_env_name() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)`[^\n]*", doc, re.MULTILINE)}
    for key in KEYS:
        row = rows.get(key.name)
        assert row is not None, f"docs/configuration.md has no row for {key.name}"
        for name in (*key.aliases, key.option, *key.env):
            assert f"`{name}" in row, f"{name} missing from the {key.name} row"
