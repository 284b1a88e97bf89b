"""Channel credentials, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class CredentialsError(Exception):
    pass


class CredentialBox:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise CredentialsError("STOCKSYNC_SECRET_KEY must be a Fernet key "
                                   "(32 url-safe base64-encoded bytes)") from exc

    def seal(self, credentials: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise CredentialsError("channel credentials cannot be decrypted with this "
                                   "STOCKSYNC_SECRET_KEY") from exc
        return data


def load_or_create_key(path: Path) -> str:
    """The embedded default: a key file beside the database, created once, owner-only."""
    if path.exists():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
