"""The panels' charts as PNGs: the frozen live panel's (power by component and cumulative CO2e
over the cell, ``chart_png``) and ``%carbon panel``'s bars (``bars_png``), one frame for both.

A frozen panel must read wherever a notebook is opened: JupyterLab shows an untrusted
notebook's HTML through its sanitizer (inline SVG and most styles go), nbconvert and GitHub
show their own way; an ``<img>`` of a PNG survives them all. The image is drawn here, with
no imaging library: filled steps, a dashed line, grid lines and a small bitmap font, at
twice the displayed size (sharp on high-density screens), on the theme's background, so its
text keeps its contrast whatever page it lands on.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from typing import TYPE_CHECKING, Callable, Sequence

from .chart_layout import HEIGHT_PX, MARGINS_PX, WIDTH_PX, bars_layout, chart_layout
from .presentation import CO2_COLOUR, palette_of
from .series import PowerSeries

if TYPE_CHECKING:
    from ..records import CellRecord

SCALE = 2  # image pixels per CSS pixel
FONT_SCALE = 3  # image pixels per font pixel: 7-pixel capitals are 10.5 CSS px tall


# 5x7 bitmap glyphs: 7 rows of 5 bits, most significant bit on the left.
_GLYPHS = {
    "0": (14, 17, 19, 21, 25, 17, 14), "1": (4, 12, 4, 4, 4, 4, 14), "2": (14, 17, 1, 2, 4, 8, 31),
    "3": (31, 2, 4, 2, 1, 17, 14), "4": (2, 6, 10, 18, 31, 2, 2), "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14), "7": (31, 1, 2, 4, 8, 8, 8), "8": (14, 17, 17, 14, 17, 17, 14),
    "9": (14, 17, 17, 15, 1, 2, 12), ".": (0, 0, 0, 0, 0, 12, 12), "-": (0, 0, 0, 31, 0, 0, 0),
    " ": (0,) * 7, "₂": (0, 0, 0, 12, 2, 4, 14), "[": (14, 8, 8, 8, 8, 8, 14), "]": (14, 2, 2, 2, 2, 2, 14),
    "A": (14, 17, 17, 31, 17, 17, 17), "C": (14, 17, 16, 16, 16, 17, 14), "G": (14, 17, 16, 23, 17, 17, 15),
    "M": (17, 27, 21, 21, 17, 17, 17), "O": (14, 17, 17, 17, 17, 17, 14), "P": (30, 17, 17, 30, 16, 16, 16),
    "R": (30, 17, 17, 30, 20, 18, 17), "U": (17, 17, 17, 17, 17, 17, 14), "W": (17, 17, 17, 21, 21, 21, 10),
    "a": (0, 0, 14, 1, 15, 17, 15), "e": (0, 0, 14, 17, 31, 16, 14), "f": (6, 9, 8, 28, 8, 8, 8),
    "g": (0, 15, 17, 17, 15, 1, 14), "h": (16, 16, 22, 25, 17, 17, 17), "i": (4, 0, 12, 4, 4, 4, 14),
    "k": (16, 16, 18, 20, 24, 20, 18), "m": (0, 0, 26, 21, 21, 17, 17), "n": (0, 0, 22, 25, 17, 17, 17),
    "o": (0, 0, 14, 17, 17, 17, 14), "p": (0, 0, 30, 17, 30, 16, 16), "r": (0, 0, 22, 25, 16, 16, 16), "s": (0, 0, 15, 16, 14, 1, 30),
    "µ": (0, 0, 17, 17, 17, 19, 29), "F": (31, 16, 16, 30, 16, 16, 16), "L": (16, 16, 16, 16, 16, 16, 31),
    "T": (31, 4, 4, 4, 4, 4, 4),
}
GLYPH_W, GLYPH_H = 5, 7


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _mix(colour: str, background: str, opacity: float) -> tuple[int, int, int]:
    return tuple(round(c * opacity + b * (1 - opacity)) for c, b in zip(_rgb(colour), _rgb(background)))  # type: ignore[return-value]


class Canvas:
    """An RGB image in memory with the few drawing operations the chart needs."""

    def __init__(self, width: int, height: int, background: tuple[int, int, int]):
        self.width, self.height = width, height
        self.stride = 1 + 3 * width  # each row: PNG's filter byte (0: none), then RGB pixels
        self.pixels = bytearray((b"\x00" + bytes(background) * width) * height)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: tuple[int, int, int]) -> None:
        left, right = max(int(round(min(x0, x1))), 0), min(int(round(max(x0, x1))), self.width)
        top, bottom = max(int(round(min(y0, y1))), 0), min(int(round(max(y0, y1))), self.height)
        if right <= left:
            return
        span = bytes(colour) * (right - left)
        for start in range(top * self.stride + 1 + left * 3, bottom * self.stride, self.stride):
            self.pixels[start:start + len(span)] = span

    def line(self, points: list[tuple[float, float]], colour: tuple[int, int, int], width: float,
             dash: tuple[float, float] | None = None) -> None:
        """A polyline of square dots every pixel along each segment (dashed: on, off lengths)."""
        half, travelled = width / 2, 0.0
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if dash is None and (x0 == x1 or y0 == y1):  # steps and grid: one rectangle
                self.rect(min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half, max(y0, y1) + half, colour)
                continue
            length = max(abs(x1 - x0), abs(y1 - y0), 1.0)
            for step in range(int(length) + 1):
                t = step / length
                if dash is None or (travelled + step) % (dash[0] + dash[1]) < dash[0]:
                    x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
                    self.rect(x - half, y - half, x + half, y + half, colour)
            travelled += int(length) + 1

    def text(self, x: float, y: float, text: str, colour: tuple[int, int, int], anchor: str = "start") -> None:
        """``text`` with its baseline at ``y``; ``anchor``: start, middle or end at ``x``."""
        size = FONT_SCALE
        width = text_width(text)
        left = x - {"start": 0, "middle": width / 2, "end": width}[anchor]
        top = y - GLYPH_H * size
        for index, char in enumerate(text):
            glyph = _GLYPHS.get(char, _GLYPHS[" "])
            for row, bits in enumerate(glyph):
                for column in range(GLYPH_W):
                    if bits & (1 << (GLYPH_W - 1 - column)):
                        gx = left + index * (GLYPH_W + 1) * size + column * size
                        self.rect(gx, top + row * size, gx + size, top + (row + 1) * size, colour)

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(self.pixels, 6)) + chunk(b"IEND", b"")


def text_width(text: str) -> float:
    return (len(text) * (GLYPH_W + 1) - 1) * FONT_SCALE


class Frame:
    """A chart's canvas on a theme's background: the plot area, its axes' labels and legend."""

    def __init__(self, theme: str | None):
        self.palette = palette_of(theme)
        self.canvas = Canvas(WIDTH_PX * SCALE, HEIGHT_PX * SCALE, _rgb(self.palette.background))
        self.left, right, self.top, bottom = (m * SCALE for m in MARGINS_PX)
        self.plot_w, self.plot_h = self.canvas.width - self.left - right, self.canvas.height - self.top - bottom
        self.text, self.co2_text = _rgb(self.palette.text), _rgb(self.palette.co2_text)
        self.legend_y = 9 * SCALE + GLYPH_H * FONT_SCALE
        self.legend_x = float(self.left + 10 * SCALE)

    def x(self, fraction: float) -> float:
        return self.left + self.plot_w * fraction

    def y(self, fraction: float) -> float:
        return self.top + self.plot_h * (1 - fraction)

    def mix(self, colour: str, opacity: float) -> tuple[int, int, int]:
        return _mix(colour, self.palette.background, opacity)

    def axes(self, left_ticks: list[tuple[float, str]], right_ticks: list[tuple[float, str]],
             bottom_ticks: list[tuple[float, str]], left_unit: str, right_unit: str) -> None:
        """Grid lines and labels of the left axis, labels of the right (CO2e) and bottom ones,
        and the axes' units above them."""
        baseline = 3.5 * FONT_SCALE  # half a capital: labels centred on their grid line
        canvas, right_x = self.canvas, self.left + self.plot_w + 6 * SCALE
        for fraction, label in left_ticks:
            canvas.rect(self.left, self.y(fraction) - 1, self.left + self.plot_w, self.y(fraction) + 1,
                        _rgb(self.palette.grid))
            canvas.text(self.left - 6 * SCALE, self.y(fraction) + baseline, label, self.text, "end")
        for fraction, label in right_ticks:
            canvas.text(right_x, self.y(fraction) + baseline, label, self.co2_text)
        for fraction, label in bottom_ticks:
            canvas.text(self.x(fraction), canvas.height - 6 * SCALE, label, self.text, "middle")
        canvas.text(self.left - 6 * SCALE, self.legend_y, left_unit, self.text, "end")
        canvas.text(right_x, self.legend_y, right_unit, self.co2_text)

    def legend(self, name: str, draw_key: Callable[[float, float], None], key_w: float) -> None:
        """One legend entry: its key (``draw_key(x, baseline)``), then its name."""
        draw_key(self.legend_x, self.legend_y)
        self.canvas.text(self.legend_x + key_w + 4 * SCALE, self.legend_y, name, self.text)
        self.legend_x += key_w + 4 * SCALE + text_width(name) + 14 * SCALE

    def swatch(self, name: str, colour: str) -> None:
        size = SWATCH * SCALE
        self.legend(name, lambda x, y: self.canvas.rect(x, y - size, x + size, y, self.mix(colour, 0.7)), size)

    def png(self) -> bytes:
        return self.canvas.png()


SWATCH = 10  # a legend key's size (CSS px)
CO2_DASH = (6 * SCALE, 4 * SCALE)


def chart_png(series: PowerSeries, theme: str | None) -> bytes | None:
    """``chart_layout(series)`` drawn as PNG bytes on ``theme``'s background; None before the
    series has an interval."""
    layout = chart_layout(series)
    if layout is None:
        return None
    frame = Frame(theme)
    canvas, x, y = frame.canvas, frame.x, frame.y
    frame.axes(layout.power_ticks, layout.co2_ticks, layout.time_ticks, "W", layout.co2_unit)
    times, below = layout.times, [0.0] * len(layout.times)
    for area in layout.areas:
        fill = frame.mix(area.colour, 0.45)
        for index in range(1, len(times)):
            canvas.rect(x(times[index - 1]), y(area.tops[index]), x(times[index]), y(below[index]), fill)
        outline = [(x(times[0]), y(area.tops[0]))]
        for index in range(1, len(times)):
            outline += [(x(times[index - 1]), y(area.tops[index])), (x(times[index]), y(area.tops[index]))]
        canvas.line(outline, _rgb(area.colour), 1.5 * SCALE)
        below = area.tops
        frame.swatch(area.name, area.colour)
    canvas.line([(x(t), y(c)) for t, c in zip(layout.co2_times, layout.co2)], _rgb(CO2_COLOUR), 2 * SCALE, CO2_DASH)
    frame.legend("CO₂e so far", lambda lx, ly: canvas.line([(lx, ly - 5 * SCALE), (lx + 16 * SCALE, ly - 5 * SCALE)],
                                                          _rgb(CO2_COLOUR), 2 * SCALE, CO2_DASH), 16 * SCALE)
    return frame.png()


def bars_png(records: Sequence["CellRecord"], theme: str | None) -> bytes:
    """``bars_layout(records)`` (at least one record) drawn as PNG bytes on ``theme``'s
    background: bars stacked by component, CO2e as squares, labels that never overlap."""
    layout = bars_layout(records)
    frame = Frame(theme)
    canvas, y = frame.canvas, frame.y
    slot = frame.plot_w / len(records)
    bar = min(slot * 0.7, 40 * SCALE)
    every = max(1, math.ceil((max(text_width(label) for label in layout.labels) + 8 * SCALE) / slot))
    centres = [(index + 0.5) / len(records) for index in range(len(records))]
    frame.axes(layout.energy_ticks, layout.co2_ticks,
               [(c, label) for index, (c, label) in enumerate(zip(centres, layout.labels)) if index % every == 0],
               layout.energy_unit, layout.co2_unit)
    dot = 3 * SCALE
    for index, centre in enumerate(centres):
        left, below = frame.x(centre) - bar / 2, 0.0
        for stack in layout.stacks:
            canvas.rect(left, y(stack.tops[index]), left + bar, y(below), frame.mix(stack.colour, 0.75))
            below = stack.tops[index]
        co2_y = y(layout.co2[index])
        canvas.rect(frame.x(centre) - dot, co2_y - dot, frame.x(centre) + dot, co2_y + dot, _rgb(CO2_COLOUR))
    for stack in layout.stacks:
        frame.swatch(stack.name, stack.colour)
    size = SWATCH * SCALE
    frame.legend("CO₂e", lambda lx, ly: canvas.rect(lx, ly - size * 0.8, lx + size * 0.6, ly - size * 0.2,
                                                   _rgb(CO2_COLOUR)), size)
    return frame.png()


def chart_img(series: PowerSeries, theme: str | None) -> str:
    """An ``<img>`` of ``chart_png`` (a data URI: it survives every HTML sanitizer), or ''."""
    png = chart_png(series, theme)
    if png is None:
        return ""
    return (
        f'<img class="cm-chart" src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'width="{WIDTH_PX}" height="{HEIGHT_PX}" alt="Power by component and cumulative CO2e over the cell" '
        f'style="display:block;width:100%;max-width:{WIDTH_PX}px;height:auto">'
    )
