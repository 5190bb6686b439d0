"""`speechdis <command>`: one module per command, each with ``register(subparsers)``.

The CLI is the only place (with the recipes) that reads argv and prints; library code raises
:class:`speechdis.errors.SpeechdisError`, which is shown here as a one-line message. Every parser shows each
option's default once, in its help line (:class:`HelpFormatter`); help texts do not repeat it.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Command modules under speechdis.cli; each defines register(subparsers) -> sets args.func.
COMMANDS = ["prepare", "features", "train", "extract", "search", "evaluate", "image"]

DESCRIPTION = """\
Phonetic and speaker embeddings of spoken words: Kaldi-style data dirs in, embeddings and reports out.

A typical run (each step has its own --help):
  speechdis prepare librispeech --corpus DIR --subset dev-clean data/dev    # or: prepare lhotse MANIFESTS OUT
  speechdis features data/dev --config conf/mfcc.yaml --nj 4                # Kaldi MFCC + CMVN
  speechdis train --config conf/train_disentangled.yaml --data data/dev --out exp/dis
  speechdis extract --model exp/dis data/test --out exp/dis/test.npz        # or speechdis.load_model() in Python
  speechdis evaluate all --data data/test --model dis=exp/dis --out exp/eval
  speechdis search --archive exp/dis/test.npz query.wav --model exp/dis  # nearest segments of a spoken query

The whole pipeline on the embedded synthetic corpus: bash recipes/mini/run.sh
"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; each option's default appended once, and only when it says something (not for
    flags, unset options, or help texts that already explain their default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or action.nargs == 0 or action.default in (None, argparse.SUPPRESS)
                or action.default == [] or "default" in text.lower()):
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """ArgumentParser with :class:`HelpFormatter`; sub-command parsers inherit it."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from speechdis import __version__

    parser = Parser(prog="speechdis", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"speechdis {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"speechdis.cli.{name}").register(sub)
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
