"""Fixtures for uploads: a store, a kept-files folder of the test's own, and the CLI aimed at the test database."""

import pytest

import settings
from ingest.uploads.__main__ import main


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    folder = tmp_path / "uploads"
    monkeypatch.setattr(settings, "UPLOAD_DIR", folder)
    return folder


@pytest.fixture
def cli(db_url, upload_dir, monkeypatch):
    """main() against this test's database, as DATABASE_URL would aim it."""
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    return main


@pytest.fixture
def shop(make_shop):
    """A store in Paris selling in euros: (id, domain)."""
    domain = "paris-shop.myshopify.com"
    return make_shop(domain, currency="EUR", timezone="Europe/Paris"), domain


def write(path, text: str, encoding: str = "utf-8") -> str:
    """Write a hand-written CSV (newlines as given) and return its path as text."""
    path.write_bytes(text.encode(encoding))
    return str(path)
