"""Deadline warnings where work happens: one record in the entry dialog, a whole file in Batch Upload.

The judging is app/pars/deadlines.py; this module only words it for a label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from app.pars.deadlines import OVERDUE, DeadlineWarning
from app.pars.values import format_pars_date

WARN_STYLE = "QLabel { color: palette(text); background: %s; border-left: 4px solid %s; padding: 4px 8px; }"
OVERDUE_COLOR = "#d9483b"
DUE_COLOR = "#e0a526"


def record_note(warnings: list[DeadlineWarning]) -> str:
    """'Past a deadline: …' / 'Due soon: …' lines for one record; empty when none applies."""
    lines = []
    for warning in warnings:
        lead = "Past a deadline" if warning.state == OVERDUE else "Due soon"
        lines.append(f"{lead} — {warning.message}")
    return "\n".join(lines)


def batch_note(per_record: Iterable[list[DeadlineWarning]]) -> tuple[str, bool]:
    """One line per rule for a file's valid records: how many are past it and how many near it.
    Returns (text, any overdue)."""
    overdue: Counter[str] = Counter()
    due: Counter[str] = Counter()
    first: dict[str, date] = {}
    titles: dict[str, str] = {}
    for warnings in per_record:
        for warning in warnings:
            titles[warning.rule] = warning.title
            (overdue if warning.state == OVERDUE else due)[warning.rule] += 1
            first[warning.rule] = min(first.get(warning.rule, warning.deadline), warning.deadline)
    lines = []
    for rule, title in titles.items():
        parts = []
        if overdue[rule]:
            parts.append(f"{overdue[rule]} already past it")
        if due[rule]:
            parts.append(f"{due[rule]} due soon")
        lines.append(f"{title}: {', '.join(parts)} (earliest deadline {format_pars_date(first[rule])})")
    if not lines:
        return "", False
    return "Deadlines: " + "; ".join(lines) + ". Queue and sync them now.", bool(sum(overdue.values()))


def style_for(any_overdue: bool, tint_overdue: str = "rgba(217, 72, 59, 40)", tint_due: str = "rgba(224, 165, 38, 45)") -> str:
    return WARN_STYLE % ((tint_overdue, OVERDUE_COLOR) if any_overdue else (tint_due, DUE_COLOR))
