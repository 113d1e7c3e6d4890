"""Draws ParsDesk's icons with QPainter and writes them next to this script.

    python resources/icons/make_icons.py

The app icon (parsdesk.png, 256 px, plus parsdesk.ico for Windows builds), one status icon per record
status (status-*.png, 32 px) and the toolbar/tab icons (64 px). Shapes are simple on purpose: each
status has its own colour AND its own shape, so they stay apart for colour-blind users.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen, QPolygonF  # noqa: E402

HERE = Path(__file__).resolve().parent
Painter = Callable[[QPainter, float], None]

BLUE = QColor("#1f5fa8")
GREEN = QColor("#2e7d32")
RED = QColor("#c62828")
AMBER = QColor("#ef8f00")
GREY = QColor("#757575")
PURPLE = QColor("#6a4c93")
WHITE = QColor("#ffffff")


def _pen(color: QColor, width: float) -> QPen:
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _disc(p: QPainter, s: float, color: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawEllipse(QRectF(s * 0.06, s * 0.06, s * 0.88, s * 0.88))


def _polyline(p: QPainter, s: float, points: list[tuple[float, float]], color: QColor, width: float) -> None:
    p.setPen(_pen(color, s * width))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPolyline(QPolygonF([QPointF(x * s, y * s) for x, y in points]))


# --- status icons ------------------------------------------------------------------------------------


def draft(p: QPainter, s: float) -> None:  # a dashed empty circle: exists only here
    pen = _pen(GREY, s * 0.1)
    pen.setStyle(Qt.PenStyle.DashLine)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawEllipse(QRectF(s * 0.12, s * 0.12, s * 0.76, s * 0.76))


def queued(p: QPainter, s: float) -> None:  # a clock: waiting for the next sync
    _disc(p, s, AMBER)
    _polyline(p, s, [(0.5, 0.24), (0.5, 0.52), (0.7, 0.62)], WHITE, 0.1)


def submitted(p: QPainter, s: float) -> None:  # an arrow going out: with the board
    _disc(p, s, BLUE)
    _polyline(p, s, [(0.26, 0.5), (0.72, 0.5)], WHITE, 0.11)
    _polyline(p, s, [(0.52, 0.3), (0.72, 0.5), (0.52, 0.7)], WHITE, 0.11)


def accepted(p: QPainter, s: float) -> None:  # a tick
    _disc(p, s, GREEN)
    _polyline(p, s, [(0.27, 0.52), (0.44, 0.68), (0.74, 0.34)], WHITE, 0.12)


def rejected(p: QPainter, s: float) -> None:  # a cross on a rounded square (not a disc)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(RED)
    p.drawRoundedRect(QRectF(s * 0.08, s * 0.08, s * 0.84, s * 0.84), s * 0.18, s * 0.18)
    _polyline(p, s, [(0.31, 0.31), (0.69, 0.69)], WHITE, 0.12)
    _polyline(p, s, [(0.69, 0.31), (0.31, 0.69)], WHITE, 0.12)


def delete_queued(p: QPainter, s: float) -> None:  # a bin outline on amber: delete waiting to be sent
    _disc(p, s, AMBER)
    _bin(p, s, WHITE, filled=False)


def delete_submitted(p: QPainter, s: float) -> None:  # a bin outline on purple: delete in progress
    _disc(p, s, PURPLE)
    _bin(p, s, WHITE, filled=False)


def deleted(p: QPainter, s: float) -> None:  # a grey bin
    _bin(p, s, GREY, filled=True)


def _bin(p: QPainter, s: float, color: QColor, *, filled: bool) -> None:
    p.setPen(_pen(color, s * 0.07))
    p.setBrush(QBrush(color) if filled else Qt.BrushStyle.NoBrush)
    body = QPainterPath()
    body.moveTo(s * 0.32, s * 0.36)
    body.lineTo(s * 0.68, s * 0.36)
    body.lineTo(s * 0.64, s * 0.76)
    body.lineTo(s * 0.36, s * 0.76)
    body.closeSubpath()
    p.drawPath(body)
    _polyline(p, s, [(0.26, 0.29), (0.74, 0.29)], color, 0.07)
    _polyline(p, s, [(0.43, 0.22), (0.57, 0.22)], color, 0.07)


# --- toolbar and tab icons ---------------------------------------------------------------------------


def sync(p: QPainter, s: float) -> None:  # two arcs chasing each other
    p.setPen(_pen(BLUE, s * 0.1))
    p.setBrush(Qt.BrushStyle.NoBrush)
    rect = QRectF(s * 0.2, s * 0.2, s * 0.6, s * 0.6)
    p.drawArc(rect, 20 * 16, 140 * 16)
    p.drawArc(rect, 200 * 16, 140 * 16)
    for angle in (20, 200):
        a = math.radians(angle)
        x, y = 0.5 + 0.3 * math.cos(a), 0.5 - 0.3 * math.sin(a)
        tangent = a - math.pi / 2  # arrow head points along the clockwise direction
        tip = (x + 0.12 * math.cos(tangent), y - 0.12 * math.sin(tangent))
        _polyline(p, s, [(x - 0.1 * math.cos(a), y + 0.1 * math.sin(a)), tip,
                         (x + 0.1 * math.cos(a), y - 0.1 * math.sin(a))], BLUE, 0.08)


def cancel(p: QPainter, s: float) -> None:
    p.setPen(_pen(RED, s * 0.1))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawEllipse(QRectF(s * 0.16, s * 0.16, s * 0.68, s * 0.68))
    _polyline(p, s, [(0.28, 0.72), (0.72, 0.28)], RED, 0.1)


def new_learner(p: QPainter, s: float) -> None:  # a person with a plus
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(BLUE)
    p.drawEllipse(QRectF(s * 0.2, s * 0.12, s * 0.32, s * 0.32))
    p.drawPie(QRectF(s * 0.08, s * 0.5, s * 0.56, s * 0.6), 0, 180 * 16)
    _polyline(p, s, [(0.78, 0.5), (0.78, 0.86)], GREEN, 0.11)
    _polyline(p, s, [(0.6, 0.68), (0.96, 0.68)], GREEN, 0.11)


def learners(p: QPainter, s: float) -> None:  # two people: a list of learners
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#9db8d9"))
    p.drawEllipse(QRectF(s * 0.52, s * 0.14, s * 0.28, s * 0.28))
    p.drawPie(QRectF(s * 0.4, s * 0.48, s * 0.52, s * 0.56), 0, 180 * 16)
    p.setBrush(BLUE)
    p.drawEllipse(QRectF(s * 0.18, s * 0.2, s * 0.3, s * 0.3))
    p.drawPie(QRectF(s * 0.06, s * 0.56, s * 0.54, s * 0.58), 0, 180 * 16)


def search(p: QPainter, s: float) -> None:
    p.setPen(_pen(BLUE, s * 0.1))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawEllipse(QRectF(s * 0.14, s * 0.14, s * 0.46, s * 0.46))
    _polyline(p, s, [(0.56, 0.56), (0.84, 0.84)], BLUE, 0.13)


def settings(p: QPainter, s: float) -> None:  # a cog
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(GREY)
    path = QPainterPath()
    teeth = 8
    for i in range(teeth * 2):
        a = math.pi * 2 * i / (teeth * 2)
        r = 0.4 if i % 2 == 0 else 0.3
        for da in (-0.17, 0.17):
            x, y = 0.5 + r * math.cos(a + da), 0.5 + r * math.sin(a + da)
            if i == 0 and da < 0:
                path.moveTo(x * s, y * s)
            else:
                path.lineTo(x * s, y * s)
    path.closeSubpath()
    hole = QPainterPath()
    hole.addEllipse(QRectF(s * 0.38, s * 0.38, s * 0.24, s * 0.24))
    p.drawPath(path.subtracted(hole))


def delete(p: QPainter, s: float) -> None:
    _bin(p, s, RED, filled=False)


def upload(p: QPainter, s: float) -> None:  # an arrow up into a tray
    _polyline(p, s, [(0.5, 0.66), (0.5, 0.16)], BLUE, 0.1)
    _polyline(p, s, [(0.3, 0.36), (0.5, 0.16), (0.7, 0.36)], BLUE, 0.1)
    _polyline(p, s, [(0.16, 0.6), (0.16, 0.84), (0.84, 0.84), (0.84, 0.6)], GREY, 0.09)


def activity(p: QPainter, s: float) -> None:  # a calendar page
    p.setPen(_pen(BLUE, s * 0.07))
    p.setBrush(WHITE)
    p.drawRoundedRect(QRectF(s * 0.14, s * 0.2, s * 0.72, s * 0.66), s * 0.08, s * 0.08)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(BLUE)
    p.drawRect(QRectF(s * 0.14, s * 0.2, s * 0.72, s * 0.16))
    for row in range(2):
        for col in range(3):
            p.drawRect(QRectF(s * (0.24 + col * 0.19), s * (0.46 + row * 0.18), s * 0.12, s * 0.1))


def app_icon(p: QPainter, s: float) -> None:  # a blue tile with a certificate tick: "reported, accepted"
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(BLUE)
    p.drawRoundedRect(QRectF(s * 0.04, s * 0.04, s * 0.92, s * 0.92), s * 0.2, s * 0.2)
    p.setBrush(WHITE)
    p.drawRoundedRect(QRectF(s * 0.22, s * 0.16, s * 0.5, s * 0.64), s * 0.05, s * 0.05)
    for i in range(3):
        _polyline(p, s, [(0.3, 0.3 + i * 0.1), (0.62, 0.3 + i * 0.1)], QColor("#9db8d9"), 0.035)
    p.setPen(_pen(WHITE, s * 0.05))
    p.setBrush(GREEN)
    p.drawEllipse(QRectF(s * 0.5, s * 0.5, s * 0.36, s * 0.36))
    _polyline(p, s, [(0.59, 0.68), (0.66, 0.75), (0.78, 0.61)], WHITE, 0.055)


STATUS_ICONS: dict[str, Painter] = {
    "status-draft": draft,
    "status-queued": queued,
    "status-submitted": submitted,
    "status-accepted": accepted,
    "status-rejected": rejected,
    "status-delete-queued": delete_queued,
    "status-delete-submitted": delete_submitted,
    "status-deleted": deleted,
}
ACTION_ICONS: dict[str, Painter] = {
    "sync": sync,
    "cancel": cancel,
    "new-learner": new_learner,
    "search": search,
    "learners": learners,
    "settings": settings,
    "delete": delete,
    "upload": upload,
    "activity": activity,
}


def render(painter_fn: Painter, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter_fn(p, float(size))
    p.end()
    return image


def main(out_dir: Path = HERE) -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - alive while painting
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, fn in STATUS_ICONS.items():
        render(fn, 32).save(str(out_dir / f"{name}.png"))
    for name, fn in ACTION_ICONS.items():
        render(fn, 64).save(str(out_dir / f"{name}.png"))
    render(app_icon, 256).save(str(out_dir / "parsdesk.png"))
    render(app_icon, 64).save(str(out_dir / "parsdesk.ico"), "ICO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
