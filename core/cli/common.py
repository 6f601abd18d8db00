"""What every command shares: the one-line failure."""
from __future__ import annotations

import sys

EXIT_USAGE = 2


def fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_USAGE
