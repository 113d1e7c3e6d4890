"""The 12-month reporting overview, drawn with QPainter: records reported per month, stacked by their
outcome, and the rejection codes that cost the most corrections.

`OverviewChart` paints a plain `ReportingOverview` (app/services/overview.py) in the widget's palette,
so it reads on light and dark windows; `OverviewDialog` reads it through ctx.read and shows it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.pars.values import format_pars_date
from app.services.overview import OUTCOMES, ReportingOverview, reporting_overview
from app.ui.charts import STATUS_COLORS
from app.ui.context import AppContext

OUTCOME_COLORS = {"Accepted": STATUS_COLORS["Accepted"], "Rejected": STATUS_COLORS["Rejected"],
                  "Submitted": STATUS_COLORS["Submitted"], "Deleted": STATUS_COLORS["Deleted"]}
CORRECTED_COLOR = "#e0a526"


def _nice_ceiling(value: int) -> int:
    """A round axis maximum at or above `value` whose quarters are whole numbers: 4 × (1, 2, 5) × 10^n."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if 4 * factor * step >= value:
                return 4 * factor * step
        step *= 10


class OverviewChart(QWidget):
    def __init__(self, overview: ReportingOverview | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewChart")
        self.overview = overview
        self.setMinimumSize(720, 340)

    def set_overview(self, overview: ReportingOverview) -> None:
        self.overview = overview
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(960, 400)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        if self.overview is None:
            painter.end()
            return
        area = QRectF(self.rect()).adjusted(14, 10, -14, -10)
        split = area.left() + area.width() * 0.58
        self._paint_months(painter, QRectF(area.left(), area.top(), split - area.left() - 24, area.height()), palette)
        self._paint_codes(painter, QRectF(split, area.top(), area.right() - split, area.height()), palette)
        painter.end()

    # --- records per month ------------------------------------------------------------------------
    def _paint_months(self, painter: QPainter, area: QRectF, palette: QPalette) -> None:
        assert self.overview is not None
        text = palette.color(QPalette.ColorRole.Text)
        faint = QColor(text)
        faint.setAlpha(60)
        title_font = QFont(self.font())
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(text)
        metrics = QFontMetrics(title_font)
        painter.drawText(QPointF(area.left(), area.top() + metrics.ascent()), "Records reported to PARS per month, by outcome")
        painter.setFont(self.font())
        small = QFontMetrics(self.font())
        top = area.top() + metrics.height() + small.height() + 14
        # legend
        x = area.left()
        legend_y = area.top() + metrics.height() + 4
        for outcome in OUTCOMES:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(OUTCOME_COLORS[outcome]))
            painter.drawRect(QRectF(x, legend_y + 2, 10, 10))
            painter.setPen(text)
            label = f"{outcome} ({sum(m.outcomes.get(outcome, 0) for m in self.overview.months)})"
            painter.drawText(QPointF(x + 14, legend_y + small.ascent()), label)
            x += 14 + small.horizontalAdvance(label) + 16
        months = self.overview.months
        peak = _nice_ceiling(max((m.total for m in months), default=0))
        axis_width = max(small.horizontalAdvance(str(peak * step // 4)) for step in range(5)) + 10
        plot = QRectF(area.left() + axis_width, top, area.width() - axis_width, area.bottom() - top - small.height() - 6)
        for step in range(5):
            value = peak * step // 4
            y = plot.bottom() - plot.height() * step / 4
            painter.setPen(faint)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(area.left(), y - small.height() / 2, axis_width - 6, small.height()),
                             int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), str(value))
        slot = plot.width() / max(1, len(months))
        bar_width = slot * 0.62
        for position, month in enumerate(months):
            left = plot.left() + slot * position + (slot - bar_width) / 2
            y = plot.bottom()
            painter.setPen(Qt.PenStyle.NoPen)
            for outcome in OUTCOMES:
                number = month.outcomes.get(outcome, 0)
                if not number:
                    continue
                height = plot.height() * number / peak
                painter.setBrush(QColor(OUTCOME_COLORS[outcome]))
                painter.drawRect(QRectF(left, y - height, bar_width, height))
                y -= height
            painter.setPen(text)
            if month.total:
                painter.drawText(QRectF(left - 10, y - small.height() - 2, bar_width + 20, small.height()),
                                 int(Qt.AlignmentFlag.AlignCenter), str(month.total))
            painter.drawText(QRectF(plot.left() + slot * position, plot.bottom() + 4, slot, small.height()),
                             int(Qt.AlignmentFlag.AlignCenter), month.label)
        if not self.overview.reported:
            painter.setPen(text)
            painter.drawText(plot, int(Qt.AlignmentFlag.AlignCenter),
                             "Nothing reported to PARS in the last 12 months yet")

    # --- rejection codes ------------------------------------------------------------------------------
    def _paint_codes(self, painter: QPainter, area: QRectF, palette: QPalette) -> None:
        assert self.overview is not None
        text = palette.color(QPalette.ColorRole.Text)
        title_font = QFont(self.font())
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(text)
        metrics = QFontMetrics(title_font)
        painter.drawText(QPointF(area.left(), area.top() + metrics.ascent()), "Rejections that cost most corrections")
        painter.setFont(self.font())
        small = QFontMetrics(self.font())
        y = area.top() + metrics.height() + 4
        x = area.left()
        for color, label in ((OUTCOME_COLORS["Rejected"], "rejected"), (CORRECTED_COLOR, "of them corrected")):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(color))
            painter.drawRect(QRectF(x, y + 2, 10, 10))
            painter.setPen(text)
            painter.drawText(QPointF(x + 14, y + small.ascent()), label)
            x += 14 + small.horizontalAdvance(label) + 16
        left, width = area.left(), area.width()
        y += small.height() + 12
        codes = self.overview.rejections
        if not codes:
            painter.setPen(text)
            painter.drawText(QRectF(left, y, width, small.height() * 3), int(Qt.TextFlag.TextWordWrap),
                             "No rejections in the last 12 months.")
            return
        peak = max(c.rejected for c in codes)
        row_height = min(44.0, (area.bottom() - y) / len(codes))
        for cost in codes:
            label = small.elidedText(cost.description, Qt.TextElideMode.ElideRight, int(width))
            painter.setPen(text)
            painter.drawText(QPointF(left, y + small.ascent()), label)
            bar_top = y + small.height() + 2
            numbers = f"{cost.rejected} · {cost.corrected}"
            bar_room = width - small.horizontalAdvance(numbers) - 8
            full = bar_room * cost.rejected / peak
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(OUTCOME_COLORS["Rejected"]))
            painter.drawRect(QRectF(left, bar_top, full, 9))
            if cost.corrected:
                painter.setBrush(QColor(CORRECTED_COLOR))
                painter.drawRect(QRectF(left, bar_top + 9, bar_room * cost.corrected / peak, 5))
            painter.setPen(text)
            painter.drawText(QPointF(left + full + 6, bar_top + small.ascent() - 1), numbers)
            y += row_height


class OverviewDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewDialog")
        self.setWindowTitle("Reporting overview — last 12 months")
        self.ctx = ctx
        self.chart = OverviewChart(parent=self)
        self.caption = QLabel(self)
        self.caption.setObjectName("overviewCaption")
        self.caption.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.caption)
        layout.addWidget(buttons)
        self.resize(1000, 480)
        self.reload()

    def reload(self) -> None:
        overview = self.ctx.read(reporting_overview)
        self.chart.set_overview(overview)
        corrected = sum(c.corrected for c in overview.rejections)
        self.caption.setText(
            f"{overview.reported} records reported in the 12 months to {format_pars_date(overview.as_of)}, by their "
            f"status today (a month is when PARS first answered). Rejections: each code's records rejected and how "
            f"many were corrected and resubmitted ({corrected} correction{'s' if corrected != 1 else ''} in all)."
        )
