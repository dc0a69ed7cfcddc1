"""Where the command line finds the base URL and the tokens.

In order: command-line flags, then the environment (``GENOMCORE_BASE_URL``,
``TOKEN``, ``REFRESH_TOKEN``), then a ``.env`` file in the working directory
(the same variables, as the vendor's examples load them with python-dotenv).
Flags are convenient but visible to other users in the process list: prefer
the environment or ``.env`` for tokens.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

import attrs

__all__ = ["Credentials", "add_credential_arguments", "resolve_credentials"]


@attrs.frozen(repr=False)
class Credentials:
    """The base URL and tokens a command uses (the repr hides the tokens)."""

    base_url: str | None
    token: str | None
    refresh_token: str | None

    def __repr__(self) -> str:
        return f"Credentials(base_url={self.base_url!r}, token=<hidden>, refresh_token=<hidden>)"


def add_credential_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--base-url``, ``--token`` and ``--refresh-token`` to a command."""
    group = parser.add_argument_group("connection (flags, else environment, else ./.env)")
    group.add_argument("--base-url", help="API root (else $GENOMCORE_BASE_URL)")
    group.add_argument("--token", help="access token (else $TOKEN); visible in the process list")
    group.add_argument("--refresh-token", help="refresh token (else $REFRESH_TOKEN)")


def _dotenv(directory: Path) -> Mapping[str, str | None]:
    path = directory / ".env"
    if not path.is_file():
        return {}
    try:
        from dotenv import dotenv_values
    except ImportError:  # the cli extra is not installed: read nothing rather than guess
        return {}
    return dotenv_values(path)


def resolve_credentials(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> Credentials:
    """Resolve flags, then environment, then ``./.env``."""
    env = os.environ if environ is None else environ
    dotenv = _dotenv(directory or Path.cwd())

    def pick(flag: str | None, name: str) -> str | None:
        return flag or env.get(name) or dotenv.get(name) or None

    return Credentials(
        base_url=pick(getattr(args, "base_url", None), "GENOMCORE_BASE_URL"),
        token=pick(getattr(args, "token", None), "TOKEN"),
        refresh_token=pick(getattr(args, "refresh_token", None), "REFRESH_TOKEN"),
    )
