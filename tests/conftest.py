"""Shared fixtures: a real emulator on loopback, clients, and the real sample file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "examples" / "data" / "actigraphy_week.csv"
TOKEN = "test-access-token"
REFRESH = "test-refresh-token"


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    """The real one-week actigraphy recording (40,316 observations)."""
    return SAMPLE_CSV


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator (empty database) per test, serving on a free loopback port."""
    with Emulator(token=TOKEN, refresh_token=REFRESH) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[GenomcoreApiClient]:
    """A client talking to the fresh emulator."""
    with GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emulator.base_url) as api:
        yield api
