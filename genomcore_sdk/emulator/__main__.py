"""``python -m genomcore_sdk.emulator``: the same as ``genomcore emulator``."""

import argparse
import sys

from .server import add_arguments, run_from_arguments


def main() -> int:
    """Parse the emulator's options and serve."""
    parser = argparse.ArgumentParser(prog="python -m genomcore_sdk.emulator")
    add_arguments(parser)
    return run_from_arguments(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
