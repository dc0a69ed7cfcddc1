"""Griffe extension for ``make docs``: Sphinx roles in docstrings become cross-references.

The project's docstrings use Sphinx roles (``:class:`UploadReport```,
``:meth:`set_faults```, ``:mod:`genomcore_sdk.emulator.faults```). This turns
each into a Markdown cross-reference that mkdocstrings resolves in the scope
of the documented object (``scoped_crossrefs``), so a reference to something
that does not exist, or is not in the API reference, fails the strict build
instead of rendering as ``:class:``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(class|meth|func|data|attr|mod|exc|obj):`(~?)([\w.]+)`")


def markdown_reference(match: re.Match[str]) -> str:
    """``:class:`~a.b.C``` -> ``[`C`][a.b.C]``; methods and functions get ``()``."""
    role, short, target = match.groups()
    title = target.rsplit(".", 1)[-1] if short else target
    if role in {"meth", "func"}:
        title += "()"
    return f"[`{title}`][{target}]"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring once the object tree is built."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the roles of ``obj``'s docstring."""
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(markdown_reference, obj.docstring.value)
