"""What every command shares: the one-line failure."""
from __future__ import annotations

import sys

EXIT_USAGE = 2


def parse(parser, argv):
    """(the parsed arguments, None), or (None, the exit code) for --help (0) or a usage error (2)."""
    try:
        return parser.parse_args(argv), None
    except SystemExit as e:
        return None, int(e.code or 0)


def fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_USAGE
