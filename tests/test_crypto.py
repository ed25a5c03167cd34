"""Tokens at rest: Fernet encryption and key rotation."""

import pytest
from cryptography.fernet import Fernet, InvalidToken

from ingest import crypto

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip_and_ciphertext_hides_the_token():
    token = crypto.encrypt("shpat_secret", keys=OLD)
    assert "shpat" not in token and crypto.decrypt(token, keys=OLD) == "shpat_secret"


def test_rotation_keeps_old_tokens_readable_then_moves_them_to_the_new_key():
    old_token = crypto.encrypt("shpat_secret", keys=OLD)
    ring = f"{NEW},{OLD}"
    assert crypto.decrypt(old_token, keys=ring) == "shpat_secret"
    rotated = crypto.rotate(old_token, keys=ring)
    assert crypto.decrypt(rotated, keys=NEW) == "shpat_secret"
    with pytest.raises(InvalidToken):
        crypto.decrypt(rotated, keys=OLD)


def test_missing_keys_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(crypto.settings, "TOKEN_ENCRYPTION_KEYS", None)
    with pytest.raises(RuntimeError, match="TOKEN_ENCRYPTION_KEYS"):
        crypto.encrypt("x")
