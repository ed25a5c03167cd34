"""Secrets at rest: Fernet tokens under a MultiFernet keyring, so keys can be rotated."""

from cryptography.fernet import Fernet, MultiFernet

import settings


def keyring(keys: str | None = None) -> MultiFernet:
    """Return the keyring from comma-separated keys, newest first (TOKEN_ENCRYPTION_KEYS)."""
    keys = keys or settings.TOKEN_ENCRYPTION_KEYS
    if not keys:
        raise RuntimeError("TOKEN_ENCRYPTION_KEYS is not set: generate one with `python -m ingest.crypto`.")
    return MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])


def encrypt(plaintext: str, *, keys: str | None = None) -> str:
    """Encrypt with the newest key."""
    return keyring(keys).encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, keys: str | None = None) -> str:
    """Decrypt with whichever key of the ring made the token."""
    return keyring(keys).decrypt(token.encode()).decode()


def rotate(token: str, *, keys: str | None = None) -> str:
    """Re-encrypt a token under the newest key (after a new key is put first in the ring)."""
    return keyring(keys).rotate(token.encode()).decode()


if __name__ == "__main__":
    print(Fernet.generate_key().decode())
