"""Draws Taskly's app icons from the brand mark in static/favicon.svg (a white tick on blue).

Run once from the repository root, `python static/icons/make_icons.py`, and commit the PNGs;
the app only serves them. Shapes are drawn 8× larger and scaled down, for smooth edges.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE, WHITE = (0x2F, 0x5B, 0xD3, 255), (255, 255, 255, 255)
TICK = ((9, 16.5), (13.5, 21), (23, 11))  # favicon.svg's path, in its 32-unit box
STROKE, RADIUS = 3.2, 7  # its stroke width and corner radius
HERE = Path(__file__).resolve().parent


def draw(size: int, *, rounded: bool, scale: float = 1.0) -> Image.Image:
    """`rounded`: the favicon's card with clear corners; else the blue fills the square (the
    platform cuts its own shape). `scale` shrinks the tick about the centre."""
    big = size * 8
    unit = big / 32
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), RADIUS * unit if rounded else 0, BLUE)
    points = [((16 + (x - 16) * scale) * unit, (16 + (y - 16) * scale) * unit) for x, y in TICK]
    width = STROKE * scale * unit
    pen.line(points, WHITE, round(width), joint="curve")
    for x, y in (points[0], points[-1]):  # round caps
        pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    draw(192, rounded=True).save(HERE / "icon-192.png", optimize=True)
    draw(512, rounded=True).save(HERE / "icon-512.png", optimize=True)
    # Maskable: the tick's far corner sits 0.34 of the width from the centre at full size;
    # at 0.8 it stays well inside the safe zone (a circle of radius 0.4) of any mask.
    draw(512, rounded=False, scale=0.8).save(HERE / "maskable-512.png", optimize=True)
    # iOS rounds the corners itself and shows transparent ones as black: fill the square.
    draw(180, rounded=False).convert("RGB").save(HERE / "apple-touch-icon.png", optimize=True)
