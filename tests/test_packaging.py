"""Packaging: one version, a changelog, and a wheel that works on its own.

``python -m build`` makes the sdist and, from it, the wheel; the wheel is then
installed with the ``emulator`` extra into a fresh virtual environment (no
editable install, no source tree on the path) where the README's quick start
runs against an emulator started from that environment. This needs PyPI (or
the configured package index) for the build backend and the dependencies,
and takes about a minute.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

import genomcore_sdk
from tests.test_docs_examples import fences

ROOT = Path(__file__).resolve().parent.parent
CORE_DEPENDENCIES = {"attrs", "httpx", "python-dateutil", "orjson", "tenacity"}
EXTRAS = {"emulator", "cli", "pandas", "all", "docs", "dev"}


def test_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    source = project["tool"]["hatch"]["version"]["path"]
    assert source == "genomcore_sdk/__init__.py"
    declared = re.findall(r'^__version__ = "([^"]+)"$', (ROOT / source).read_text(), re.MULTILINE)
    assert declared == [genomcore_sdk.__version__]
    assert re.fullmatch(r"\d+\.\d+\.\d+", genomcore_sdk.__version__)


def test_changelog_describes_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in text
    releases = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    versions = [r for r in releases if r != "Unreleased"]
    assert versions and versions[0] == genomcore_sdk.__version__


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points Python at this source tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} and not k.startswith("GENOMCORE_")
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build``: the sdist, then the wheel built from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        cwd=out,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_wheel_contents_and_metadata(dist: Path) -> None:
    version = genomcore_sdk.__version__
    wheel = only(dist, f"genomcore_sdk-{version}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"genomcore_sdk-{version}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    for name in (
        "genomcore_sdk/__init__.py",
        "genomcore_sdk/py.typed",
        "genomcore_sdk/emulator/app.py",
        "genomcore_sdk/cli/__init__.py",
        "genomcore_ts_api/__init__.py",
        "genomcore_ts_api/py.typed",
        "genomcore_ts_api/models/observation.py",
        "genomcore_ts_api/api/time_series/create_time_series.py",
        f"{info}/licenses/LICENSE",
    ):
        assert name in names, name
    tops = {name.split("/")[0] for name in names}
    assert tops == {"genomcore_sdk", "genomcore_ts_api", info}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "conftest.py"))]
    assert metadata["Name"] == "genomcore-sdk"
    assert metadata["Version"] == version
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "MIT"
    requirements = metadata.get_all("Requires-Dist") or []
    core = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0] for r in requirements if "extra ==" not in r}
    assert core == CORE_DEPENDENCIES
    assert set(metadata.get_all("Provides-Extra") or []) == EXTRAS
    emulator_deps = {
        re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0]
        for r in requirements
        if "extra == 'emulator'" in r or 'extra == "emulator"' in r
    }
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {
        re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0]
        for r in declared["optional-dependencies"]["emulator"]
    }
    assert {"starlette", "uvicorn"} <= emulator_deps
    assert {d.lower() for d in emulator_deps} == {d.lower() for d in wanted}
    assert "genomcore = genomcore_sdk.cli:main" in entry_points


def test_sdist_contents(dist: Path) -> None:
    version = genomcore_sdk.__version__
    sdist = only(dist, f"genomcore_sdk-{version}.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "openapi.yaml",
        "generator-config.yaml",
        "scripts/generate_client.py",
        "genomcore_sdk/py.typed",
        "generated/genomcore_ts_api/py.typed",
        "generated/genomcore_ts_api/models/observation.py",
    ):
        assert name in names, name
    assert not [n for n in names if n.startswith((".venv", "tests", "docs", "examples"))]
    assert not [n for n in names if "__pycache__" in n]


def readme_quick_start() -> str:
    readme = ROOT / "README.md"
    text = readme.read_text()
    section = text.index("## Quick start")
    start_line = text.count("\n", 0, section) + 1
    blocks = [src for line, info, src in fences(readme) if info == "python" and line > start_line]
    assert blocks, "README.md has no python block after '## Quick start'"
    return blocks[0]


@pytest.fixture
def fresh_venv(dist: Path, tmp_path: Path) -> Path:
    """A new virtual environment with the wheel and its emulator extra installed."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean_env())
    wheel = only(dist, "genomcore_sdk-*.whl")
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[emulator]"],
        cwd=tmp_path,
        env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv


@pytest.fixture
def venv_emulator(fresh_venv: Path, tmp_path: Path) -> Iterator[str]:
    """``genomcore emulator`` from the fresh environment, on a free port; yields its URL."""
    process = subprocess.Popen(
        [
            str(fresh_venv / "bin" / "genomcore"),
            "emulator",
            "--port",
            "0",
            "--db",
            str(tmp_path / "emulator.sqlite3"),
            "--token",
            "wheel-token",
            "--refresh-token",
            "wheel-refresh",
        ],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        first = ""
        while not first and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=0.5):
                first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, f"no address from the emulator: {first!r}, exit {process.poll()}"
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


INSPECT = """
import importlib.metadata, importlib.util, json, pathlib, sys
import genomcore_sdk, genomcore_ts_api
print(json.dumps({
    "sdk": genomcore_sdk.__file__,
    "generated": genomcore_ts_api.__file__,
    "version": genomcore_sdk.__version__,
    "metadata_version": importlib.metadata.version("genomcore-sdk"),
    "typed": [(pathlib.Path(m.__file__).parent / "py.typed").exists()
              for m in (genomcore_sdk, genomcore_ts_api)],
    "installed": {name: importlib.util.find_spec(name) is not None
                  for name in ("starlette", "uvicorn", "tqdm", "dotenv", "pandas")},
    "path": sys.path,
}))
"""


def test_wheel_in_a_fresh_venv_runs_the_readme_quick_start(
    fresh_venv: Path, venv_emulator: str, tmp_path: Path
) -> None:
    python = str(fresh_venv / "bin" / "python")
    work = tmp_path / "work"
    work.mkdir()
    inspected = subprocess.run(
        [python, "-c", INSPECT], cwd=work, env=clean_env(), capture_output=True, text=True
    )
    assert inspected.returncode == 0, inspected.stderr
    facts = json.loads(inspected.stdout)
    site = str(fresh_venv / "lib")
    assert facts["sdk"].startswith(site) and facts["generated"].startswith(site)
    assert not [p for p in facts["path"] if p.startswith(str(ROOT))]
    assert facts["version"] == facts["metadata_version"] == genomcore_sdk.__version__
    assert facts["typed"] == [True, True]
    # the emulator extra, and nothing of the other extras
    assert facts["installed"] == {
        "starlette": True,
        "uvicorn": True,
        "tqdm": False,
        "dotenv": False,
        "pandas": False,
    }

    script = work / "quick_start.py"
    script.write_text(readme_quick_start())
    env = clean_env(
        GENOMCORE_BASE_URL=venv_emulator, TOKEN="wheel-token", REFRESH_TOKEN="wheel-refresh"
    )
    run = subprocess.run(
        [python, str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # the README's quick start prints: stored, total matched, the values read back
    assert run.stdout.strip().splitlines()[-1] == "1 1 [12]"

    cli = subprocess.run(
        [str(fresh_venv / "bin" / "genomcore"), "--help"],
        cwd=work,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "emulator" in cli.stdout
