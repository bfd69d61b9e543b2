"""Loading Lingma credentials from disk: an explicit file, else the local login cache.

``CredentialStore.get()`` is called before every request. It re-reads only when one of the
files it used changed (one ``stat`` each), so a login refreshed by the Lingma app is picked up
without a restart; a failure is re-tried at most every ``RETRY_AFTER`` seconds. Blocking file
work is small (a few stats and reads); the log scan for a machine id, which can touch many
files, is memoized per store.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ... import errors
from . import remote_paths
from .remote_credentials import (
    Credential,
    CredentialError,
    cache_key,
    expire_text,
    machine_id_from_text,
    parse_cache_plaintext,
    parse_credentials_file,
    pkcs7_unpad,
)

log = logging.getLogger("lingma_proxy.remote")

RETRY_AFTER = 2.0
LOG_SCAN_TTL = 300.0
_TAIL = 8 * 1024 * 1024
_MAX_LOGS = 24
_USER_FILES = ("cache/user", ".auth/user")
_ID_FILES = ("cache/id", "cli/.auth/id", ".auth/machine_id", ".auth/id")
ADVICE = ("log in to Lingma or QoderCN on this machine (the app writes the login cache), or export a "
          "credentials file where you are logged in (`lingma-proxy export-auth PATH`) and pass it with "
          "--remote-auth-file")


@dataclass(frozen=True, slots=True)
class Loaded:
    cred: Credential
    files: tuple[Path, ...]  # what to watch for changes
    mtime: float = 0.0  # of the encrypted cache file (the ``newest`` pick policy)


def decrypt_cache(blob: bytes, machine_id: str) -> bytes:
    """AES-128-CBC with key = IV = the machine id's first 16 characters, PKCS#7 padding."""
    try:
        raw = base64.b64decode(b"".join(blob.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if not raw or len(raw) % 16:
        raise ValueError("ciphertext length is not a multiple of 16")
    key = cache_key(machine_id)
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        raise CredentialError(
            "reading the Lingma login cache needs the 'cryptography' package (pip install cryptography); "
            "or pass an exported credentials file with --remote-auth-file"
        ) from None
    dec = Cipher(algorithms.AES(key), modes.CBC(key)).decryptor()
    return pkcs7_unpad(dec.update(raw) + dec.finalize())


def read_tail(path: Path, limit: int = _TAIL) -> str:
    with path.open("rb") as f:
        try:
            f.seek(-limit, os.SEEK_END)
        except OSError:
            f.seek(0)
        return f.read().decode("utf-8", "replace")


def recent_logs(root: Path, limit: int = _MAX_LOGS, max_entries: int = 5000) -> list[Path]:
    """The newest ``.log`` (or Lingma/Qoder-named) files under ``root``, newest first."""
    found: list[tuple[float, Path]] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        seen += len(dirnames) + len(filenames)
        for name in filenames:
            low = name.lower()
            if low.endswith(".log") or "lingma" in low or "qoder" in low:
                p = Path(dirpath, name)
                try:
                    found.append((p.stat().st_mtime, p))
                except OSError:
                    pass
        if seen > max_entries:
            break
    found.sort(key=lambda t: t[0], reverse=True)
    return [p for _, p in found[:limit]]


def machine_id_from_files(files: Iterable[Path]) -> str | None:
    for f in files:
        try:
            if not f.is_file():
                continue
            mid = machine_id_from_text(read_tail(f))
        except OSError:
            continue
        if mid:
            return mid
    return None


class CredentialStore:
    """The current credential; see the module docstring."""

    def __init__(self, auth_file: str = "", cache_dir: str = "",
                 env: Mapping[str, str] | None = None, home: Path | None = None) -> None:
        self.auth_file = str(Path(auth_file).expanduser()) if auth_file else ""
        self.cache_dir = cache_dir
        self.env = dict(os.environ if env is None else env)
        self.home = home or Path.home()
        self._loaded: Loaded | None = None
        self._stamps: tuple[tuple[int, int], ...] = ()
        self._error: CredentialError | None = None
        self._error_at = 0.0
        self._global_id: tuple[float, str | None] | None = None

    # ------------------------------------------------------------------ public

    def get(self, now: float | None = None) -> Credential:
        """The credential, re-read when its files changed; raises ``ProxyError`` when there is
        none or it has expired."""
        now = time.monotonic() if now is None else now
        loaded = self._loaded
        if loaded is not None and self._stamps == _stamps(loaded.files):
            return self._fresh(loaded.cred)
        if loaded is None and self._error is not None and now - self._error_at < RETRY_AFTER:
            raise self._error
        try:
            loaded = self.load()
        except CredentialError as e:
            self._loaded, self._error, self._error_at = None, e, now
            raise
        if self._loaded is None or self._loaded.cred != loaded.cred:
            log.info("remote credentials loaded from %s (account %s)", loaded.cred.source, loaded.cred.account())
        self._loaded, self._error = loaded, None
        self._stamps = _stamps(loaded.files)
        return self._fresh(loaded.cred)

    def load(self) -> Loaded:
        """Read now: the explicit file, else the first cache directory that yields a login
        (one that has not expired, when any has not)."""
        if self.auth_file:
            return self.load_file(Path(self.auth_file))
        found = self.load_all(first=True)
        return found[0]

    def load_file(self, path: Path) -> Loaded:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CredentialError(f"the credentials file {path} does not exist: {ADVICE}") from None
        except OSError as e:
            raise CredentialError(f"cannot read the credentials file {path}: {e.strerror or e}") from None
        return Loaded(parse_credentials_file(data, str(path)), (path,))

    def load_all(self, first: bool = False) -> list[Loaded]:
        """Every cache directory that yields a login, in candidate order (``first``: stop at the
        first one that has not expired). Raises ``CredentialError`` listing what was tried."""
        dirs = remote_paths.cache_dirs(self.env, self.home, self.cache_dir)
        tried: list[str] = []
        out: list[Loaded] = []
        now_ms = int(time.time() * 1000)
        for d in dirs:
            try:
                loaded = self.load_dir(d)
            except CredentialError as e:
                if e.message != "absent":
                    tried.append(f"{d}: {e.message}")
                continue
            out.append(loaded)
            if first and not loaded.cred.expired(now_ms):
                return [loaded]
        if out:
            return out
        shown = "; ".join(tried) if tried else "no login cache (cache/user or .auth/user) in any of " + ", ".join(
            str(d) for d in dirs[:6]) + (f" and {len(dirs) - 6} more" if len(dirs) > 6 else "")
        raise CredentialError(f"no usable Lingma login found ({shown}): {ADVICE}")

    def load_dir(self, d: Path) -> Loaded:
        """One cache directory; ``CredentialError("absent")`` when it has no login cache."""
        user = next((d / f for f in _USER_FILES if (d / f).is_file()), None)
        if user is None:
            raise CredentialError("absent")
        id_file = next((d / f for f in _ID_FILES if (d / f).is_file()), None)
        machine_id = ""
        if id_file is not None:
            try:
                machine_id = id_file.read_text("utf-8", "replace").strip()
            except OSError:
                machine_id = ""
        if not machine_id:
            machine_id = self._machine_id_from_logs(d) or ""
        if not machine_id:
            raise CredentialError(f"found {user} but no machine id (no {', '.join(_ID_FILES)}, none in the logs)")
        try:
            blob = user.read_bytes()
            mtime = user.stat().st_mtime
        except OSError as e:
            raise CredentialError(f"cannot read {user}: {e.strerror or e}") from None
        try:
            plain = decrypt_cache(blob, machine_id)
        except ValueError as e:
            raise CredentialError(f"cannot decrypt {user} ({e}; wrong machine id?)") from None
        cred = parse_cache_plaintext(plain, machine_id, str(user))
        files = (user,) + ((id_file,) if id_file is not None else ())
        return Loaded(cred, files, mtime)

    # ------------------------------------------------------------------ internals

    def _fresh(self, cred: Credential) -> Credential:
        if cred.expired(int(time.time() * 1000)):
            raise errors.AuthenticationFailed(
                f"the Lingma login from {cred.source} expired at {expire_text(cred.token_expire_ms)}: {ADVICE}"
            )
        return cred

    def _machine_id_from_logs(self, d: Path) -> str | None:
        mid = machine_id_from_files(remote_paths.dir_log_files(d))
        if mid:
            return mid
        if (d / "logs").is_dir():
            mid = machine_id_from_files(recent_logs(d / "logs"))
            if mid:
                return mid
        cached = self._global_id
        if cached is not None and time.monotonic() - cached[0] < LOG_SCAN_TTL:
            return cached[1]
        mid = None
        for root in remote_paths.log_roots(self.env, self.home):
            if root.is_dir():
                mid = machine_id_from_files(recent_logs(root))
                if mid:
                    break
        self._global_id = (time.monotonic(), mid)
        return mid


def _stamps(files: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


def pick(store: CredentialStore, policy: str) -> Loaded:
    """The export utilities' choice among cache directories: ``auto`` (what requests use),
    ``newest`` (most recently written cache) or ``longest`` (latest expiry). Ties keep the
    earlier candidate."""
    policy = (policy or "auto").strip().lower()
    if policy not in ("auto", "newest", "longest"):
        raise ValueError(f"invalid remote auth pick policy {policy!r}; expected auto, newest, or longest")
    if store.auth_file or policy == "auto":
        return store.load()
    found = store.load_all()
    best = found[0]
    for cand in found[1:]:
        if (policy == "newest" and cand.mtime > best.mtime) or (
            policy == "longest" and cand.cred.token_expire_ms > best.cred.token_expire_ms
        ):
            best = cand
    return best
