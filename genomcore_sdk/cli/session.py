"""Opening the API client for a command from its resolved credentials."""

from __future__ import annotations

import argparse

from ..client import GenomcoreApiClient
from ..errors import ConfigurationError
from .credentials import resolve_credentials

__all__ = ["DEFAULT_CLI_RETRIES", "open_client"]

DEFAULT_CLI_RETRIES = 5
"""Retries per request (chunk or page) the commands make by default; ``--max-retries`` changes it.

The library's default is 0 (the vendor's); a command line run by hand or by a
scheduler is better served by riding out a few transient failures.
"""


def open_client(args: argparse.Namespace) -> GenomcoreApiClient:
    """A client for the command's flags, environment and ``./.env``."""
    creds = resolve_credentials(args)
    if not creds.token and not creds.refresh_token:
        raise ConfigurationError(
            "No access token: pass --token (and --refresh-token), set the TOKEN (and "
            "REFRESH_TOKEN) environment variables, or put TOKEN=... in ./.env"
        )
    return GenomcoreApiClient(
        token=creds.token, refresh_token=creds.refresh_token, base_url=creds.base_url
    )
