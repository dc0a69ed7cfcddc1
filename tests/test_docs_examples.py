"""The documentation's own rules: every example runs or says why not, and the site builds clean.

The examples themselves are run by the root ``conftest.py`` (Sybil for the
Markdown pages, ``--doctest-modules`` for the docstrings). These tests make
sure nothing escapes that: a code block in a language that is never run, a
Python block whose info string keeps Sybil from running it, a skip without a
reason, a ``genomcore`` command line the CLI would refuse, a docstring
example that the API reference would not render as code, and any warning of
the docs build.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from sybil import Document
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

from genomcore_sdk.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Shown, never run: shell sessions, file contents, configuration.
SHOWN_NOT_RUN = {"bash", "text", "toml", "yaml"}
# Guides whose claims are backed by examples that run.
PAGES_WITH_RUNNING_EXAMPLES = [
    "README.md",
    "docs/index.md",
    "docs/quickstart.md",
    "docs/guides/upload.md",
    "docs/guides/query.md",
    "docs/guides/delete.md",
    "docs/guides/tokens.md",
    "docs/guides/errors.md",
    "docs/emulator.md",
]
INFO = re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fences(path: Path) -> list[tuple[int, str, str]]:
    """(line, info string, source) of every fenced code block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    document = Document(text, str(path))
    found = []
    for region in RawFencedCodeBlockLexer(info_pattern=INFO)(document):
        line = text.count("\n", 0, region.start) + 1
        found.append((line, region.lexemes["info"].strip(), str(region.lexemes["source"])))
    return found


def skips(path: Path) -> list[tuple[int, str]]:
    """(line, arguments) of every ``<!-- skip: ... -->`` directive of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    document = Document(text, str(path))
    return [
        (text.count("\n", 0, region.start) + 1, region.lexemes["arguments"])
        for region in DirectiveInHTMLCommentLexer("skip")(document)
    ]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_code_block_is_run_or_a_language_that_is_never_run(page: Path) -> None:
    wrong = [
        f"{page_id(page)}:{line}: ```{info}"
        for line, info, _ in fences(page)
        if info != "python" and info not in SHOWN_NOT_RUN
    ]
    assert not wrong, (
        "code blocks must be ```python (run by make test) or one of "
        f"{sorted(SHOWN_NOT_RUN)} (shown only); a block like ```python title=... "
        f"or ```py would silently not run: {wrong}"
    )


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_skip_says_why(page: Path) -> None:
    for line, arguments in skips(page):
        assert re.fullmatch(r'(next|start) "[^"]{10,}"|end', arguments.strip()), (
            f'{page_id(page)}:{line}: write <!-- skip: next "the reason" --> '
            f"(or start/end), got {arguments!r}"
        )


@pytest.mark.parametrize("name", PAGES_WITH_RUNNING_EXAMPLES)
def test_guides_have_examples_that_run(name: str) -> None:
    document = Document.parse(str(ROOT / name), PythonCodeBlockParser())
    assert len(list(document.examples())) >= 1, f"{name} has no Python example that runs"


def genomcore_command_lines() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for line, info, source in fences(page):
            if info != "bash":
                continue
            for offset, command in enumerate(source.splitlines()):
                if command.startswith("genomcore "):
                    found.append((f"{page_id(page)}:{line + 1 + offset}", command))
    return found


@pytest.mark.parametrize(("where", "command"), genomcore_command_lines())
def test_documented_command_lines_parse(where: str, command: str) -> None:
    words = shlex.split(command, comments=True)[1:]
    try:
        build_parser().parse_args(words)
    except SystemExit as exc:  # --help exits 0 after printing; an error exits 2
        assert exc.code == 0, f"{where}: the CLI refuses `{command}`"


def test_command_lines_are_found() -> None:
    commands = [command for _, command in genomcore_command_lines()]
    assert any(c.startswith("genomcore emulator --port 8080") for c in commands)


def docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            text = ast.get_docstring(node, clean=False)
            if text:
                found.append((getattr(node, "lineno", 1), text))
    return found


def test_docstring_examples_use_the_google_examples_section() -> None:
    # "Example:" is an admonition for mkdocstrings: its >>> lines would render as a quote
    wrong = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "genomcore_sdk").rglob("*.py"))
        for line, text in docstrings(path)
        if re.search(r"^\s*Example:\s*$", text, re.MULTILINE)
    ]
    assert not wrong, f"write 'Examples:' (Google style) instead of 'Example:' in {wrong}"


def test_docs_site_builds_without_a_warning(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "WARNING" not in output, output[-4000:]
    # the pages, the API reference and the snippets are all there
    reference = (tmp_path / "reference" / "time_series" / "index.html").read_text()
    assert "create_time_series" in reference and "query_time_series" in reference
    assert 'href="../upload/#genomcore_sdk.upload.UploadReport"' in reference
    emulator_page = (tmp_path / "emulator" / "index.html").read_text()
    assert "store_daily_steps" in emulator_page  # included from docs/examples/
    assert "0.1.0" in (tmp_path / "changelog" / "index.html").read_text()
