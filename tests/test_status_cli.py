"""`parsdesk status`: the attention list for cron, with an exit status an office can schedule on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.cli import main
from app.services import attention
from tests.attention_support import DECEMBER_20, build_scene

ROOT = Path(__file__).resolve().parent.parent


def test_json_lists_every_item_with_its_deadline_counts_and_credit_ids(store, capsys):
    scene = build_scene(store)
    code = main(["status", "--db", str(store.path), "--as-of", "2026-12-20", "--format", "json"])
    items = {item["rule"]: item for item in json.loads(capsys.readouterr().out)}
    assert code == 1  # the "late" record is past its 30 days
    thirty = items["moc_30_days"]
    assert (thirty["deadline"], thirty["count"], thirty["overdue"]) == ("2026-12-10", 2, 1)
    assert set(thirty["creditIDs"]) == scene.credit_ids(store, "late", "near")
    assert items["credit_claim_date"]["activityIDs"] == ["123456789"]
    assert items["rejected_waiting"]["deadline"] is None
    with store.session() as s:  # the same list the window shows
        expected = [i.as_dict() for i in attention.attention_list(s, DECEMBER_20, with_ids=True)]
    assert list(items.values()) == expected


def test_exit_0_when_nothing_is_overdue(store, capsys):
    build_scene(store)
    assert main(["status", "--db", str(store.path), "--as-of", "2026-12-10"]) == 0
    text = capsys.readouterr().out
    assert "MOC within 30 days: 1 record, due by 12-10-2026" in text  # "late": its 30th day
    assert "Rejected, to correct: 1 record, waiting since" in text


def test_january_2_after_unsent_deletes_is_overdue(store, capsys):
    build_scene(store)
    assert main(["status", "--db", str(store.path), "--as-of", "2027-01-02"]) == 1
    assert "Deletes close (706): 1 record, 1 overdue (deadline 12-31-2026)" in capsys.readouterr().out


def test_an_empty_store_needs_nothing(store, capsys):
    assert main(["status", "--db", str(store.path), "--as-of", "2026-12-20", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_bad_usage_exits_2_with_a_clear_message(tmp_path, capsys, monkeypatch):
    assert main(["status", "--db", str(tmp_path / "missing.sqlite3")]) == 3  # the store: an environment problem (docs/cli.md)
    assert "no ParsDesk store at" in capsys.readouterr().err
    try:
        main(["status", "--as-of", "12/20/2026"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "'12/20/2026' is not a date in YYYY-MM-DD form" in capsys.readouterr().err


def test_status_runs_as_a_process_without_qt(store):
    build_scene(store)
    script = (
        "import sys; from app.cli import main; code = main(sys.argv[1:]); "
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; "
        "raise SystemExit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script, "status", "--db", str(store.path), "--as-of", "2026-12-20"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "PARS attention list on 12-20-2026:" in done.stdout
