"""Runs every code example of the docs, the README and the docstrings against the emulator.

``make test`` (plain ``pytest``) collects, besides ``tests/``:

* the ``>>>`` examples of every docstring in ``genomcore_sdk`` (``--doctest-modules``).
  Each docstring gets a fresh, empty emulator; its namespace holds ``api`` (a
  :class:`~genomcore_sdk.GenomcoreApiClient` on it) and ``emulator_url``, and
  the environment holds ``GENOMCORE_BASE_URL``, ``TOKEN`` and ``REFRESH_TOKEN``
  for it, so ``GenomcoreApiClient(token=os.getenv("TOKEN"), ...)`` works as a
  user would write it.
* every fenced ``python`` block of ``README.md`` and ``docs/**.md`` (Sybil).
  The blocks of one page run in order in one namespace, against one fresh
  emulator per page, from a temporary working folder, with the same three
  environment variables. A block starting with ``>>>`` is a doctest (its
  output is checked). A Python block that must not run is marked, in the
  Markdown source, with ``<!-- skip: next "why" -->``; hidden set-up code goes in
  ``<!-- invisible-code-block: python ... -->``. Blocks in other languages
  (``bash``, ``text``, ...) are never run; ``tests/test_docs_examples.py``
  checks that every block names one of the allowed languages and that every
  skip gives its reason.
"""

from __future__ import annotations

import doctest
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from _pytest.doctest import DoctestItem
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator

# tests/vendor_examples are scripts run by tests/test_vendor_examples.py; importing
# them (as --doctest-modules would) would run them.
collect_ignore = ["tests/vendor_examples"]

EXAMPLE_TOKEN = "example-token"
EXAMPLE_REFRESH_TOKEN = "example-refresh-token"
_ENV_NAMES = ("GENOMCORE_BASE_URL", "TOKEN", "REFRESH_TOKEN")


def _example_environment(base_url: str) -> dict[str, str]:
    return {
        "GENOMCORE_BASE_URL": base_url,
        "TOKEN": EXAMPLE_TOKEN,
        "REFRESH_TOKEN": EXAMPLE_REFRESH_TOKEN,
    }


@pytest.fixture(autouse=True)
def _docstring_examples_emulator(
    request: pytest.FixtureRequest,
    doctest_namespace: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """A fresh emulator, ``api`` and ``emulator_url`` for each docstring example."""
    if not isinstance(request.node, DoctestItem):
        yield
        return
    with (
        Emulator(token=EXAMPLE_TOKEN, refresh_token=EXAMPLE_REFRESH_TOKEN) as emu,
        GenomcoreApiClient(
            token=EXAMPLE_TOKEN, refresh_token=EXAMPLE_REFRESH_TOKEN, base_url=emu.base_url
        ) as api,
    ):
        for name, value in _example_environment(emu.base_url).items():
            monkeypatch.setenv(name, value)
        doctest_namespace["api"] = api
        doctest_namespace["emulator_url"] = emu.base_url
        yield
        doctest_namespace.pop("api")
        doctest_namespace.pop("emulator_url")


class _PageEnvironment:
    """One emulator, the example environment variables and a temporary cwd per Markdown page."""

    def __init__(self) -> None:
        self.emulator: Emulator | None = None
        self.saved_env: dict[str, str | None] = {}
        self.saved_cwd = ""
        self.folder: tempfile.TemporaryDirectory[str] | None = None

    def setup(self, namespace: dict[str, Any]) -> None:
        self.emulator = Emulator(token=EXAMPLE_TOKEN, refresh_token=EXAMPLE_REFRESH_TOKEN).start()
        self.saved_env = {name: os.environ.get(name) for name in _ENV_NAMES}
        os.environ.update(_example_environment(self.emulator.base_url))
        self.saved_cwd = os.getcwd()
        self.folder = tempfile.TemporaryDirectory(prefix="genomcore-docs-")
        os.chdir(self.folder.name)

    def teardown(self, namespace: dict[str, Any]) -> None:
        # close what the page opened (clients, emulators) before removing its folder
        for value in list(namespace.values()):
            if isinstance(value, GenomcoreApiClient | Emulator):
                value.__exit__(None, None, None)
        os.chdir(self.saved_cwd)
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if self.emulator is not None:
            self.emulator.stop()
        if self.folder is not None:
            self.folder.cleanup()


_page = _PageEnvironment()

pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    patterns=["README.md", "docs/*.md", "docs/*/*.md"],
    excludes=["*/README.md"],
    setup=_page.setup,
    teardown=_page.teardown,
    name="docs",
).pytest()
