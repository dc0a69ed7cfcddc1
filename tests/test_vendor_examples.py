"""The vendor's documented scripts run unchanged (but for the import) against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genomcore_sdk.emulator import Emulator

EXAMPLES = Path(__file__).resolve().parent / "vendor_examples"
ROOT = EXAMPLES.parent.parent


def run_example(
    name: str, base_url: str, tmp_path: Path, *init: str
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        GENOMCORE_BASE_URL=base_url,
        TOKEN="A_VALID_TOKEN",
        REFRESH_TOKEN="A_VALID_REFRESH_TOKEN",
    )
    code = "import runpy, sys; runpy.run_path(sys.argv[1], init_globals=dict(a.split('=', 1) for a in sys.argv[2:]))"
    return subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLES / name), *init],
        env=env,
        cwd=tmp_path,  # no .env file there, so load_dotenv keeps our variables
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def vendor_emulator() -> Emulator:
    with Emulator(token="A_VALID_TOKEN", refresh_token="A_VALID_REFRESH_TOKEN") as emu:
        yield emu  # type: ignore[misc]


def test_vendor_create_query_delete(
    vendor_emulator: Emulator, sample_csv: Path, tmp_path: Path
) -> None:
    created = run_example(
        "create.py", vendor_emulator.base_url, tmp_path, f"input_csv={sample_csv}"
    )
    assert created.returncode == 0, created.stderr
    assert vendor_emulator.state.store.count() == 40_316
    # 135 chunks of 300 went up, each answered 201
    assert vendor_emulator.state.status_counts[201] == 135

    queried = run_example("query.py", vendor_emulator.base_url, tmp_path)
    assert queried.returncode == 0, queried.stderr
    deleted = run_example("delete.py", vendor_emulator.base_url, tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert vendor_emulator.state.status_counts[200] == 2
    assert vendor_emulator.state.store.count() == 40_316  # TestBatch matched nothing
    assert "Traceback" not in created.stderr + queried.stderr + deleted.stderr
