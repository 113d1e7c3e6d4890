"""Promises about the project itself: the README's commands and CI stay in step."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_readme_opens_with_exactly_two_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("parsdesk")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    assert _readme_commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_store_file_is_owner_only(store):
    assert store.path.stat().st_mode & 0o077 == 0


def test_help_lists_every_command_with_a_summary(capsys):
    from app.cli import COMMANDS, main

    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for name, (_module, summary) in COMMANDS.items():
        assert name in out and summary.split()[0] in out
