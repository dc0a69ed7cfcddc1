"""``python -m genomcore_sdk.cli``: the same as the ``genomcore`` command."""

import sys

from . import main

sys.exit(main())
