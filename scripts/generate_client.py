"""Generate the low-level client package from an OpenAPI spec, exactly as ``make generate`` does.

Usage::

    .venv/bin/python scripts/generate_client.py --spec openapi.yaml --output DIR

writes ``DIR/genomcore_ts_api`` (replacing it). The pinned generator and ruff
are the ones installed next to the running interpreter (the project's
``.venv``): ruff must be on PATH for the generator's post-hooks, or the output
is left unformatted and differs from the committed code. The generator's
``.ruff_cache`` is removed and the ``py.typed`` marker (which ``--meta none``
does not write) is added. Any generator warning (a skipped operation or model,
ruff not found) is an error: a partial client is never accepted silently.

``make generate``, ``make check-generated`` and the regeneration drill
(``tests/test_regeneration_drill.py``) all call this script, so they cannot
drift apart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "genomcore_ts_api"


def generate(spec: Path, output: Path, config: Path = ROOT / "generator-config.yaml") -> Path:
    """Generate ``output/genomcore_ts_api`` from ``spec``; return the package folder."""
    bin_dir = Path(sys.executable).parent  # the venv's bin, not resolved through symlinks
    generator = bin_dir / "openapi-python-client"
    if not generator.exists():
        raise SystemExit(f"{generator} not found: run 'make venv' first")
    package = output / PACKAGE
    if package.exists():
        shutil.rmtree(package)
    output.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(package),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not (package / "__init__.py").exists():
        raise SystemExit(
            f"openapi-python-client failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    if "warning" in result.stdout.lower():
        # e.g. "ruff is not in PATH" (unformatted output) or a spec construct it skipped
        # (a missing operation or model): never accept a partial client silently
        raise SystemExit(f"openapi-python-client warned; fix the spec:\n{result.stdout}")
    shutil.rmtree(package / ".ruff_cache", ignore_errors=True)
    (package / "py.typed").touch()
    return package


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and generate."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.yaml", help="the OpenAPI file")
    parser.add_argument(
        "--config", type=Path, default=ROOT / "generator-config.yaml", help="generator config"
    )
    parser.add_argument(
        "--output", type=Path, required=True, help=f"folder to write {PACKAGE}/ into"
    )
    args = parser.parse_args(argv)
    generate(args.spec.resolve(), args.output.resolve(), args.config.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
