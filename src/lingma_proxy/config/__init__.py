"""Configuration: one frozen ``Settings`` merged from defaults < JSON file < environment < flags.

Where values come from
    * The file is the first of: ``--config FILE``, ``$LINGMA_PROXY_CONFIG`` (either must
      exist), ``./lingma-proxy.json``, ``./lingma-ipc-proxy.json`` (the reference's legacy name),
      ``~/.config/lingma-proxy/config.json``. Keys are the ``Settings`` field names plus the
      reference spellings ``websocket_url`` (= ``ws_url``) and ``remote_fallback_enabled``
      (= ``remote_fallback``); keys starting with ``_`` or ``$`` are annotations and ignored;
      any other unknown key is an error with a "did you mean" hint.
    * Each key has ``LINGMA_PROXY_<KEY>`` plus the reference's own names (``LMSTUDIO_URL``,
      ``LINGMA_REMOTE_BASE_URL``, ``LINGMA_PROXY_TIMEOUT_SECONDS`` ...; the table is
      ``schema.KEYS``, the first name set wins) and a flag ``--<key-with-dashes>``.
    * ``null`` in the file and empty strings anywhere mean "not set": a lower layer (or the
      default) stays. Files are typed strictly (``"port": "8095"`` is an error); environment
      and flag text is parsed (booleans: 1/true/yes/on, 0/false/no/off).
    * ``Settings.origins`` maps each field to ``default``, the file path, ``env NAME`` or
      ``flag --name``; ``backends`` may also be ``derived`` (implied by simple settings).

Backends and routes (what the server looks at: ``backends``, ``routes``, ``backend``)
    * ``backends`` lists the declared backends (file key ``backends``: an object of
      name -> ``{type, base_url, api_key, model, options}``, or a list of such objects with
      ``name``) followed by the built-in ones implied by the simple settings, each only when
      no declared backend already has its name:
        - ``openai`` whenever ``openai_base_url`` is set (so ``--backend auto`` sees explicit
          config first); naming ``openai`` without a URL is an error;
        - ``anthropic`` when it is named (``backend`` or a route) or ``anthropic_api_key`` is set;
        - ``ipc`` / ``remote`` when named; their details stay in the top-level IPC/remote fields.
    * ``backend`` is ``auto`` or the name of one entry of ``backends``: the default backend for
      a client model no route matches. ``auto`` is resolved by the server at start.
    * ``routes`` are tried in order; the first whose fnmatch ``pattern`` matches the client's
      model sends the request to its ``backend``, upstream model ``model`` (``None`` keeps the
      client's). Every route names an entry of ``backends``.
    * ``model`` is the upstream model for requests that match no route ("" = the client's).

Checks: a value of the wrong type or out of range raises ``ConfigError`` naming the key and
its source; listening on a non-loopback host without ``api_key`` is refused unless
``insecure_no_auth`` is set.
"""

from .load import (
    config_candidates,
    load_settings,
    read_config_file,
    read_config_file_if_exists,
    resolve_settings,
)
from .schema import KEYS, Key
from .settings import (
    BUILTIN_BACKENDS,
    DEFAULT_FALLBACK_MODELS,
    BackendConfig,
    ConfigError,
    Route,
    Settings,
    mask_secret,
    mask_url,
)

__all__ = [
    "BUILTIN_BACKENDS",
    "DEFAULT_FALLBACK_MODELS",
    "KEYS",
    "BackendConfig",
    "ConfigError",
    "Key",
    "Route",
    "Settings",
    "config_candidates",
    "load_settings",
    "mask_secret",
    "mask_url",
    "read_config_file",
    "read_config_file_if_exists",
    "resolve_settings",
]
