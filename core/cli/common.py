"""What every command shares: the one-line failure."""
from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


def command_parser(verb: str, description: str, examples) -> argparse.ArgumentParser:
    """The parser of `python -m core VERB`, its examples shown under --help."""
    epilog = "Examples:\n" + "\n".join(f"  python -m core {verb} {e}" for e in examples)
    return argparse.ArgumentParser(prog=f"python -m core {verb}", description=description, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def parse(parser, argv):
    """(the parsed arguments, None), or (None, the exit code) for --help (0) or a usage error (2)."""
    try:
        return parser.parse_args(argv), None
    except SystemExit as e:
        return None, int(e.code or 0)


def fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_USAGE
