"""The attention strip above the tabs: what needs doing before a PARS deadline, as clickable counts.

One chip per attention item (red: overdue, amber: due soon, blue: follow-ups) says how many records
and, in its tooltip, the deadline and what to do. Clicking a chip emits `item_clicked(rule, title)`;
the main window then shows exactly those records in Learner Search. The data is a plain
`AttentionSummary` from app/services/attention.py; the strip never reads the store itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.pars.values import format_pars_date
from app.services.attention import LEVEL_DUE, LEVEL_OVERDUE, AttentionItem, AttentionSummary
from app.ui.charts import LEVEL_COLORS, tint


def chip_text(item: AttentionItem) -> str:
    if item.level == LEVEL_OVERDUE:
        return f"{item.title}: {item.overdue} overdue" + (f" of {item.count}" if item.count > item.overdue else "")
    if item.level == LEVEL_DUE and item.deadline is not None:
        return f"{item.title}: {item.count} due {format_pars_date(item.deadline)[:5]}"
    return f"{item.title}: {item.count}"


def chip_tooltip(item: AttentionItem) -> str:
    noun = "record" if item.count == 1 else "records"
    lines = [f"{item.count} {noun}"]
    if item.deadline is not None:
        past = "passed on" if item.overdue else "by"
        lines[0] += f", deadline {past} {format_pars_date(item.deadline)}"
        if item.overdue:
            lines[0] += f" ({item.overdue} overdue)"
    elif item.oldest is not None:
        lines[0] += f", the oldest waiting since {format_pars_date(item.oldest)}"
    if item.activity_ids:
        lines.append("Activities: " + ", ".join(item.activity_ids[:8]) + (" …" if len(item.activity_ids) > 8 else ""))
    lines.append(item.action)
    lines.append("Click to see these records.")
    return "\n".join(lines)


class AttentionStrip(QFrame):
    item_clicked = Signal(str, str)  # rule name, title
    overview_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attentionStrip")
        self.setFrameShape(QFrame.Shape.NoFrame)
        # chips that do not fit are folded into "+N more": the strip never widens the window
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 2, 0, 2)
        self._layout.setSpacing(6)
        self.heading = QLabel("<b>Attention</b>", self)
        self.heading.setObjectName("attentionHeading")
        self._layout.addWidget(self.heading)
        self._chip_area = QHBoxLayout()
        self._chip_area.setSpacing(6)
        self._layout.addLayout(self._chip_area)
        self._layout.addStretch(1)
        self.overview_button = QPushButton("12-month overview…", self)
        self.overview_button.setObjectName("overviewButton")
        self.overview_button.setToolTip("Records reported per month by outcome, and the rejection codes that cost most corrections")
        self.overview_button.clicked.connect(self.overview_requested)
        self._layout.addWidget(self.overview_button)
        self.chips: list[QPushButton] = []
        self.more_chip: QPushButton | None = None
        self.summary: AttentionSummary | None = None

    def set_summary(self, summary: AttentionSummary) -> None:
        self.summary = summary
        for chip in [*self.chips, *([self.more_chip] if self.more_chip else [])]:
            self._chip_area.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        self.more_chip = None
        items = list(summary.items)
        if not items:
            self.chips.append(self._chip(None, f"Nothing needs attention on {format_pars_date(summary.as_of)}", "clear",
                                         "No record is near or past a PARS deadline, and nothing waits for you."))
        for item in items:
            self.chips.append(self._chip(item, chip_text(item), item.level, chip_tooltip(item)))
        for chip in self.chips:
            self._chip_area.addWidget(chip)
        if items:
            self.more_chip = self._chip(None, "", "follow-up", "")
            self.more_chip.setObjectName("attention_more")
            self._chip_area.addWidget(self.more_chip)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Show the chips (most urgent first) that fit the window's width; the rest are named in the
        tooltip of a "+N more" chip, so the strip never makes the window wider."""
        room = self.width() - self.heading.sizeHint().width() - self.overview_button.sizeHint().width() - 40
        more_width = self.more_chip.sizeHint().width() + 6 if self.more_chip else 0
        hidden: list[QPushButton] = []
        used = 0
        for position, chip in enumerate(self.chips):
            width = chip.sizeHint().width() + 6
            last = position == len(self.chips) - 1
            fits = not hidden and used + width + (0 if last else more_width) <= room
            chip.setVisible(fits or (position == 0))  # the most urgent always shows
            if chip.isVisibleTo(self):
                used += width
            else:
                hidden.append(chip)
        if self.more_chip is not None:
            self.more_chip.setVisible(bool(hidden))
            self.more_chip.setText(f"+{len(hidden)} more")
            self.more_chip.setToolTip("\n".join(chip.text() for chip in hidden)
                                      + "\n(widen the window, or run `parsdesk status`, to see them all)")

    def visible_rules(self) -> list[str]:
        return [c.objectName().removeprefix("attention_") for c in self.chips if c.isVisibleTo(self)]

    def _chip(self, item: AttentionItem | None, text: str, level: str, tip: str) -> QPushButton:
        chip = QPushButton(text, self)
        chip.setObjectName(f"attention_{item.rule}" if item else "attention_none")
        chip.setToolTip(tip)
        chip.setCursor(Qt.CursorShape.PointingHandCursor if item else Qt.CursorShape.ArrowCursor)
        chip.setFlat(True)
        color = LEVEL_COLORS.get(level, LEVEL_COLORS["follow-up"])
        palette = self.palette()
        background = tint(palette, color, 0.16).name()
        hover = tint(palette, color, 0.30).name()
        weight = "bold" if level in (LEVEL_OVERDUE, LEVEL_DUE) else "normal"
        chip.setStyleSheet(
            f"QPushButton {{ background: {background}; color: palette(text); border: 1px solid {color};"
            f" border-left: 4px solid {color}; border-radius: 3px; padding: 2px 8px; font-weight: {weight}; }}"
            f" QPushButton:hover {{ background: {hover}; }}"
        )
        if item is not None:
            rule, title = item.rule, item.title
            chip.clicked.connect(lambda _checked=False, r=rule, t=title: self.item_clicked.emit(r, t))
        return chip

    def chip_for(self, rule: str) -> QPushButton | None:
        return next((c for c in self.chips if c.objectName() == f"attention_{rule}"), None)
