"""The Activities table's Learners cell: a small stacked bar of record statuses, the counts in words,
and a deadline marker (red: records past a PARS deadline, amber: due soon) from the attention list.

Painted with QPainter in the item's own palette (selected rows included), so it reads on light and
dark windows; the model gives plain values through two roles, the delegate never reads the store.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.charts import LEVEL_COLORS, STATUS_ORDER, status_color

BAR_WIDTH = 84
BAR_HEIGHT = 10
GAP = 6


def marker_text(overdue: int, due: int) -> str:
    if overdue:
        return f"⚠ {overdue} overdue"
    if due:
        return f"{due} due soon"
    return ""


class StatusBarDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None, counts_role: int, marker_role: int) -> None:
        super().__init__(parent)
        self._counts_role = counts_role
        self._marker_role = marker_role

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)  # background, focus

        counts: dict[str, int] = index.data(self._counts_role) or {}
        overdue, due = index.data(self._marker_role) or (0, 0)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        text_color = opt.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        area = opt.rect.adjusted(4, 0, -4, 0)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

        marker = marker_text(int(overdue), int(due))
        if marker:
            metrics = QFontMetrics(opt.font)
            width = metrics.horizontalAdvance(marker) + 12
            badge = QRect(area.right() - width + 1, area.center().y() - metrics.height() // 2 - 1, width,
                          metrics.height() + 2)
            fill = QColor(LEVEL_COLORS["overdue" if overdue else "due"])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(badge), 4, 4)
            # white on red, near-black on amber: enough contrast whatever the window's palette
            painter.setPen(QColor("#ffffff") if overdue else QColor("#1f1600"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, marker)
            area.setRight(badge.left() - GAP)

        total = sum(counts.values())
        if total and area.width() > BAR_WIDTH + GAP:
            bar = QRectF(area.left(), area.center().y() - BAR_HEIGHT / 2 + 0.5, BAR_WIDTH, BAR_HEIGHT)
            order = [s for s in STATUS_ORDER if counts.get(s)] + sorted(s for s in counts if s not in STATUS_ORDER)
            x = bar.left()
            painter.setPen(Qt.PenStyle.NoPen)
            for position, status in enumerate(order):
                width = bar.width() * counts[status] / total
                if position == len(order) - 1:
                    width = bar.right() - x  # no hairline gap from rounding
                painter.setBrush(status_color(status))
                painter.drawRect(QRectF(x, bar.top(), width, bar.height()))
                x += width
            outline = QColor(text_color)
            outline.setAlpha(90)
            painter.setPen(outline)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(bar)
            area.setLeft(int(bar.right()) + GAP)

        if text:
            painter.setPen(text_color)
            painter.setFont(opt.font)
            elided = QFontMetrics(opt.font).elidedText(text, Qt.TextElideMode.ElideRight, max(0, area.width()))
            painter.drawText(area, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), elided)
        painter.restore()
