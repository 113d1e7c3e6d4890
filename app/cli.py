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
    "store": ("store", "copy a store into the office database; back up or restore a SQLite store"),
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
    _survive_closed_stdout()
    return _run(wanted, args)


def _run(command: str, args: argparse.Namespace) -> int:
    """Run the command; a user's mistake or a failing environment ends in one line, never a traceback."""
    from app.commands.common import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, CommandError, fail

    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        return fail(command, exc, exc.exit_code)
    except KeyboardInterrupt:
        return fail(command, "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        message = _environment_failure(exc)
        if message is None:
            raise  # a bug: its traceback is what a report needs
        return fail(command, message, EXIT_ENVIRONMENT)


def _environment_failure(exc: Exception) -> str | None:
    """One line for failures of the surroundings (the store, the disk), None for anything else."""
    from app.models.store import StoreError, database_error_text

    if isinstance(exc, StoreError):
        return str(exc)
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.OperationalError):
        return f"the store could not be used: {database_error_text(exc)}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


class _PipeSafeStream:
    """stdout that stops writing, instead of raising, once its reader has gone (`parsdesk import x | head`):
    the command still finishes its work (the rejection workbook, the exit code)."""

    def __init__(self, stream) -> None:  # noqa: ANN001 - a text stream
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._give_up()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._give_up()

    def _give_up(self) -> None:
        import os

        self.broken = True
        try:  # the interpreter's own flush at exit must not find the dead pipe either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else as the real stream
        return getattr(self._stream, name)


def _survive_closed_stdout() -> None:
    if not isinstance(sys.stdout, _PipeSafeStream) and sys.stdout is sys.__stdout__ and sys.stdout is not None:
        sys.stdout = _PipeSafeStream(sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
