"""`speechdis <command>`: one module per command, each with ``register(subparsers)``.

The CLI is the only place (with the recipes) that reads argv and prints; library code raises
:class:`speechdis.errors.SpeechdisError`, which is shown here as a one-line message.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Command modules under speechdis.cli; each defines register(subparsers) -> sets args.func.
COMMANDS = ["prepare", "features", "train", "extract", "evaluate", "image"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speechdis", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"speechdis.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"speechdis.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from speechdis.errors import SpeechdisError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except SpeechdisError as e:
        print(f"speechdis {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"speechdis {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
