"""Encryption at rest: a Fernet key ring (rotation-ready) and keyed hashes for lookups on encrypted values."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError, VaultError


class SecretBox:
    """Seals and opens small strings. The first key encrypts; every key decrypts (for rotation)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigError("WEPOS_VAULT_KEY: at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise ConfigError("WEPOS_VAULT_KEY: each key must be 32 url-safe base64-encoded bytes") from exc
        # The lookup hash key is derived from the primary key so one secret configures both.
        self._hash_key = hashlib.sha256(b"wepos-lookup:" + keys[0]).digest()

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise VaultError("a sealed value could not be decrypted with the configured keys") from exc

    def lookup_hash(self, value: str) -> str:
        """A keyed hash: equal values match, but the value cannot be guessed from the hash offline."""
        return hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def load_or_create_keys(configured: str | None, data_dir: Path) -> list[bytes]:
    """Keys from `WEPOS_VAULT_KEY` (comma-separated, newest first) or a key generated once in the data dir."""
    stored = configured or read_or_create_secret(key_file(data_dir), lambda: Fernet.generate_key().decode())
    return [part.strip().encode("ascii") for part in stored.split(",") if part.strip()]


def key_file(data_dir: Path) -> Path:
    """Where the development key ring lives when `WEPOS_VAULT_KEY` is unset (comma-separated, newest first)."""
    return data_dir / "vault.key"


def write_secret(path: Path, value: str) -> None:
    """Replace a secret file atomically, mode 0600."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    os.replace(temporary, path)


def read_or_create_secret(path: Path, make: object = None) -> str:
    """Read a secret file, creating it (mode 0600) with a fresh random value on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make() if callable(make) else secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(str(value))
    return str(value)
