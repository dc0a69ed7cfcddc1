"""examples/typed_usage.py (checked by mypy --strict in `make typecheck`) also runs, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "typed_usage.py"


def test_typed_usage_example_runs_against_the_emulator(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "typed_usage: ok"
    assert any(line.startswith("sync upload: sent=30 stored=30") for line in lines)
    assert any(line.startswith("async upload: sent=30 stored=30") for line in lines)


def test_make_typecheck_covers_the_example() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/mypy genomcore_sdk examples/typed_usage.py" in makefile
