"""The Qt binding itself: a release with a reference-counting bug in signal emission would crash the
app after a few thousand signals (a sync emits one per record), so it must never be installed."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal


class _Emitter(QObject):
    changed = Signal(int)


class _Model(QAbstractTableModel):
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 1

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 1

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return None


def _true_refs() -> int:
    gc.collect()
    return sys.getrefcount(True)


def test_emitting_signals_keeps_reference_counts_balanced(qapp):
    emitter, model = _Emitter(), _Model()
    before = _true_refs()
    for n in range(200):  # few enough that a buggy release fails here instead of aborting
        emitter.changed.emit(n)
        model.dataChanged.emit(model.index(0, 0), model.index(0, 0))
    # PySide6 6.12.0 loses one reference to True per emit (400 here); Python < 3.12 then aborts
    assert abs(_true_refs() - before) < 50
