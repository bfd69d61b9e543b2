"""Test fixtures for the remote backend: login caches encrypted the documented way, accounts."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import orjson

from fakes.lingma_remote import Account


def encrypt_cache(plaintext: bytes, machine_id: str) -> bytes:
    """What Lingma writes to ``cache/user``: base64(AES-128-CBC(key = IV = machine id[:16], PKCS#7))."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = machine_id.encode()[:16]
    pad = 16 - len(plaintext) % 16
    enc = Cipher(algorithms.AES(key), modes.CBC(key)).encryptor()
    return base64.b64encode(enc.update(plaintext + bytes([pad]) * pad) + enc.finalize())


def user_info(account: Account, expire: Any = 4102444800000, **extra: Any) -> bytes:
    doc = {"name": "alice", "uid": account.user_id, "key": account.cosy_key,
           "encrypt_user_info": account.encrypt_user_info, "expire_time": expire, **extra}
    return orjson.dumps(doc)


def make_cache(d: Path, account: Account, *, layout: str = "cache", id_file: str | None = "cache/id",
               expire: Any = 4102444800000, mtime: float | None = None) -> Path:
    """A login cache directory: ``<d>/cache/user`` (or ``.auth/user``) + the machine id file."""
    user = d / ("cache/user" if layout == "cache" else ".auth/user")
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_bytes(encrypt_cache(user_info(account, expire), account.machine_id))
    if id_file:
        p = d / id_file
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(account.machine_id + "\n")
    if mtime is not None:
        os.utime(user, (mtime, mtime))
    return user


def write_credentials(path: Path, account: Account, expire: str = "") -> Path:
    doc: dict[str, Any] = {"source": "test", "auth": {
        "cosy_key": account.cosy_key, "encrypt_user_info": account.encrypt_user_info,
        "user_id": account.user_id, "machine_id": account.machine_id}}
    if expire:
        doc["token_expire_time"] = expire
    path.write_bytes(orjson.dumps(doc))
    return path
