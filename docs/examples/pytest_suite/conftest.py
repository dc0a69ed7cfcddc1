"""Fixtures for testing your own code against the Genomcore emulator (docs/emulator.md)."""

from collections.abc import Iterator

import pytest

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator

TOKEN = "test-token"
REFRESH_TOKEN = "test-refresh-token"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator, with an empty database, for each test."""
    with Emulator(token=TOKEN, refresh_token=REFRESH_TOKEN) as emu:
        yield emu


@pytest.fixture
def api(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[GenomcoreApiClient]:
    """A client on the emulator; code that reads the environment finds it too."""
    monkeypatch.setenv("GENOMCORE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("TOKEN", TOKEN)
    monkeypatch.setenv("REFRESH_TOKEN", REFRESH_TOKEN)
    with GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH_TOKEN) as client:
        yield client
