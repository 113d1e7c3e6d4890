"""`parsdesk` entry point. With no command it starts the desktop app; see `parsdesk --help`.

Each command lives in `app/commands/<name>.py` with `register(subparsers)` and is imported only
when named, so that headless commands (check, import, sync, ...) never load Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module under app.commands, one line for --help); add new commands here.
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("gui", "start the desktop app (the default)"),
    "check": ("check", "validate a PARS batch file (.xlsx or .xml) without sending anything"),
    "activities": ("activities", "import or export activities as JSON"),
    "demo": ("demo", "build a demo store whose statuses come from the PARS sandbox"),
    "sandbox": ("sandbox", "run the PARS sandbox (a local PARS that plays the boards)"),
    "sync": ("sync", "send queued records to PARS and fetch their statuses (headless, for cron)"),
    "import": ("import_file", "store and queue the valid records of a batch file"),
    "export": ("export", "write learner records to a clean .xlsx, or PARS learner XML (OUT.xml)"),
    "export-upload": ("export_upload", "gather queued records into PARS upload files (no web services needed)"),
    "upload-results": ("upload_results", "take in PARS's rejection workbook for an upload file"),
    "status": ("status", "list records near or past a PARS deadline (exit 1 when something is overdue)"),
    "screenshots": ("screenshots", "render every screen of the app to PNG files, offscreen"),
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
    for name, (module_name, summary) in COMMANDS.items():
        if name == wanted:
            module = importlib.import_module(f"app.commands.{module_name}")
            module.register(subparsers.add_parser(
                name, help=summary, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
            ))
        else:
            # listed in --help without importing it (keeps headless commands free of Qt and fast)
            subparsers.add_parser(name, help=summary, add_help=False)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
