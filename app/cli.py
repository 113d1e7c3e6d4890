"""`parsdesk` entry point. With no command it starts the desktop app; see `parsdesk --help`.

Each command lives in `app/commands/<name>.py` with `register(subparsers)` and is imported only
when named, so that headless commands (check, import, sync, ...) never load Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module under app.commands; add new commands here.
COMMANDS: dict[str, str] = {
    "gui": "gui",
    "check": "check",
    "activities": "activities",
    "demo": "demo",
    "sandbox": "sandbox",
    "sync": "sync",
    "import": "import_file",
    "export": "export",
    "screenshots": "screenshots",
}


def _parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog="parsdesk",
        description="Report CME/MOC learner completions to ACCME PARS. Without a command: the desktop app.",
    )
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND", required=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["gui", *argv]  # `parsdesk` and `parsdesk --db X` start the app
    parser, subparsers = _parser()
    wanted = argv[0]
    for name, module_name in COMMANDS.items():
        if name == wanted:
            module = importlib.import_module(f"app.commands.{module_name}")
            module.register(subparsers.add_parser(name, help=_first_line(module.__doc__)))
        else:
            # listed in --help without importing it (keeps headless commands free of Qt and fast)
            subparsers.add_parser(name, add_help=False)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else ""


if __name__ == "__main__":
    raise SystemExit(main())
