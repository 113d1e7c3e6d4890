"""The layering rule of ARCHITECTURE.md, checked on the source: widgets never open sessions or write
SQL (they call services through `AppContext.read`/`write`), and the layers below the UI never
import Qt. Parsed with `ast`, so comments and docstrings that mention these names don't count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "app" / "ui"

# The one module on the GUI thread that opens Sessions: AppContext.read / AppContext.write.
SESSION_OWNER = UI / "context.py"

# UI modules allowed to open a Session anyway, with the reason. Only worker-thread code may be listed
# (ARCHITECTURE: a worker thread owns its own Session). Empty today: the Batch Upload workers call
# batch_import.analyse_file/commit_upload and the sync worker builds a SyncEngine on its own Store,
# so the sessions are opened in app/services and app/sync.
WORKER_EXCEPTIONS: dict[str, str] = {}

SESSION_METHODS = {"session", "transaction", "reading"}

QT_FREE = [
    ROOT / "app" / "models",
    ROOT / "app" / "pars",
    ROOT / "app" / "services",
    ROOT / "app" / "sync" / "engine.py",
]


def _python_files(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        found.extend([root] if root.is_file() else sorted(root.rglob("*.py")))
    return found


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module imported anywhere in the tree (also inside functions and TYPE_CHECKING blocks)."""
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _is_from(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def ui_violations(source: str) -> list[str]:
    """What in this UI module's source breaks "widgets never open sessions or write SQL"."""
    tree = ast.parse(source)
    found: list[str] = []
    for module in sorted(imported_modules(tree)):
        if _is_from(module, "sqlalchemy"):
            found.append(f"imports {module}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SESSION_METHODS:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "select":
            # a bare select(...) is SQL; Qt's selectionModel().select(...) is a method and not caught
            found.append(f"line {node.lineno}: select(...)")
    return found


def qt_imports(source: str) -> list[str]:
    return sorted(m for m in imported_modules(ast.parse(source)) if _is_from(m, "PySide6") or _is_from(m, "shiboken6"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_checks_catch_what_they_look_for():
    widget = (
        "from sqlalchemy import select\n"
        "class Tab:\n"
        "    def reload(self):\n"
        "        with self.ctx.store.session() as s:\n"
        "            s.execute(select(Row))\n"
        "        with self.ctx.store.transaction() as s:\n"
        "            pass\n"
    )
    assert sorted(ui_violations(widget)) == [
        "imports sqlalchemy", "line 4: .session", "line 5: select(...)", "line 6: .transaction",
    ]
    clean = (
        '"""Reads go through ctx.read; never store.session() here."""\n'
        "def reload(self):\n"
        "    self.table.selectionModel().select(index, flags)  # Qt, not SQL\n"
        "    return self.ctx.read(activity_overview)\n"
    )
    assert ui_violations(clean) == []
    assert qt_imports("def f():\n    from PySide6.QtCore import QObject\n") == ["PySide6.QtCore"]
    assert qt_imports("import PySide6\nimport os\n") == ["PySide6"]
    assert qt_imports("from app.pars import domain\n") == []


@pytest.mark.parametrize("path", _python_files(UI), ids=_relative)
def test_widgets_never_open_sessions_or_write_sql(path: Path):
    if path == SESSION_OWNER:
        return
    violations = ui_violations(path.read_text(encoding="utf-8"))
    if _relative(path) in WORKER_EXCEPTIONS:
        assert violations, f"{_relative(path)} no longer opens sessions: drop it from WORKER_EXCEPTIONS"
        return
    assert violations == [], (
        f"{_relative(path)} opens a Session or writes SQL; call a service through ctx.read/ctx.write "
        f"(or, in a worker thread, a service that takes the Store): {violations}"
    )


def test_worker_exceptions_name_existing_ui_modules():
    for name, reason in WORKER_EXCEPTIONS.items():
        assert (ROOT / name).is_file() and (ROOT / name).parent == UI, name
        assert "thread" in reason.lower(), f"{name}: only worker-thread code may open its own Session"


def test_context_opens_sessions_only_in_read_and_write():
    tree = ast.parse(SESSION_OWNER.read_text(encoding="utf-8"))
    openers = {
        function.name
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute) and node.attr in SESSION_METHODS
    }
    # read / write on the GUI thread; run: read_later's read, in a thread of the context's pool
    assert openers == {"read", "write", "run"}


@pytest.mark.parametrize("path", _python_files(*QT_FREE), ids=_relative)
def test_layers_below_the_ui_never_import_qt(path: Path):
    assert qt_imports(path.read_text(encoding="utf-8")) == [], f"{_relative(path)} imports Qt"


def test_read_returns_the_service_result_and_write_commits_or_rolls_back(qtbot, store):
    from app.services import records
    from ui_support import make_context

    ctx = make_context(store)
    ctx.write(records.set_provider_id, "7654321")
    assert ctx.read(records.provider_id) == "7654321"

    def set_then_fail(session, value: str) -> None:
        records.set_provider_id(session, value)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ctx.write(set_then_fail, "1111111")
    assert ctx.read(records.provider_id) == "7654321"  # the failed unit of work left nothing behind
